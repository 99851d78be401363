import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { productSources as sourceFiles, repoRoot } from '../fixtures/sources.js';

/**
 * The import rules of docs/architecture.md, checked on the sources: every import, re-export and
 * dynamic import of every .ts file under lib/, connectors/ and cli/, and index.ts.
 */

const root = repoRoot;

interface Import {
  /** The importing file, relative to the repository root (`lib/gateway.ts`). */
  from: string;
  /** A package name (`ioredis`, `express-session/x`) or a repository path (`lib/errors.ts`). */
  to: string;
  /** Whether every name of the statement is a type (`import type`, `export type`). */
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    const to = specifier.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts') : specifier;
    out.push({ from: file, to, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const allTypes =
        clause !== undefined
        && (clause.isTypeOnly
          || (clause.name === undefined
            && clause.namedBindings !== undefined
            && ts.isNamedImports(clause.namedBindings)
            && clause.namedBindings.elements.length > 0
            && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, allTypes);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) add(arg.text, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const imports = sourceFiles().flatMap(importsOf);
const show = (list: Import[]) => list.map((i) => `${i.from} → ${i.to}`);
const under = (p: string, ...prefixes: string[]) => prefixes.some((x) => (x.endsWith('/') ? p.startsWith(x) : p === x));

/** Modules of lib/ a connector may import: the connector contract and the helpers it hands out. */
const connectorContract = [
  'lib/connector.ts',
  'lib/connector-settings.ts',
  'lib/errors.ts',
  'lib/values.ts',
  'lib/claims/schema.ts',
  'lib/claims/map.ts',
  'lib/config/connector-base.ts',
];

/** Express and Redis, which connectors never touch (the gateway owns HTTP routing and storage). */
const webAndStorePackages = /^(express|express-session|ioredis|connect-redis)(\/|$)/;

/** The upper layers: the request flow, the guard, broker mode and the composition root. */
const upperLayers = ['lib/flow/', 'lib/guard/', 'lib/broker/', 'lib/router.ts', 'lib/gateway.ts', 'lib/gateway/'];

describe('architecture (docs/architecture.md)', () => {
  test('the parser sees the imports (a sanity check of this test)', () => {
    expect(imports.length).toBeGreaterThan(300);
    expect(show(imports)).toContain('lib/gateway.ts → lib/router.ts');
    expect(show(imports)).toContain('lib/broker/provider.ts → oidc-provider');
  });

  test('lib/ imports no connector', () => {
    expect(show(imports.filter((i) => i.from.startsWith('lib/') && i.to.startsWith('connectors/')))).toEqual([]);
  });

  test('connectors import no Express and no Redis', () => {
    expect(show(imports.filter((i) => i.from.startsWith('connectors/') && webAndStorePackages.test(i.to)))).toEqual([]);
  });

  test('connectors import from lib/ only the connector contract', () => {
    const outside = imports.filter((i) => i.from.startsWith('connectors/') && i.to.startsWith('lib/') && !connectorContract.includes(i.to));
    expect(show(outside)).toEqual([]);
  });

  test('lib/ and connectors/ import nothing from cli/', () => {
    expect(show(imports.filter((i) => under(i.from, 'lib/', 'connectors/') && i.to.startsWith('cli/')))).toEqual([]);
  });

  test('the session core, tokens, http and config import no upper layer', () => {
    const upward = imports.filter((i) => under(i.from, 'lib/session/', 'lib/tokens/', 'lib/http/', 'lib/config/', 'lib/redis/') && under(i.to, ...upperLayers));
    expect(show(upward)).toEqual([]);
  });

  test('broker mode imports neither the router nor the composition root', () => {
    const upward = imports.filter((i) => i.from.startsWith('lib/broker/') && under(i.to, 'lib/router.ts', 'lib/gateway.ts', 'lib/gateway/'));
    expect(show(upward)).toEqual([]);
  });

  test('only the composition root imports it (index.ts and lib/gateway*)', () => {
    const users = imports.filter((i) => under(i.to, 'lib/gateway.ts', 'lib/gateway/') && !under(i.from, 'index.ts', 'lib/gateway.ts', 'lib/gateway/'));
    expect(show(users)).toEqual([]);
  });

  test('the shared context (lib/context.ts) holds types only', () => {
    expect(show(imports.filter((i) => i.from === 'lib/context.ts' && !i.typeOnly))).toEqual([]);
  });
});
