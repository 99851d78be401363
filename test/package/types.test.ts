/**
 * The shipped declarations, as a TypeScript consumer compiles them: a temporary project with a
 * copy of the built package in node_modules/fedgate (no symlink), fedgate's runtime dependencies,
 * and only @types/express and @types/node (with what they depend on): no @types/express-session,
 * no prom-client, no @types/oidc-provider. `skipLibCheck: false`, under `--module node16` and
 * `nodenext`.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const modules = path.join(repo, 'node_modules');
const tsc = path.join(modules, 'typescript', 'bin', 'tsc');
let project: string;

/** A package and, transitively, its `dependencies`, as npm would install them next to it. */
function closure(seeds: readonly string[]): Set<string> {
  const out = new Set<string>();
  const queue = [...seeds];
  while (queue.length) {
    const name = queue.pop()!;
    if (out.has(name) || !existsSync(path.join(modules, name, 'package.json'))) continue;
    out.add(name);
    const pkg = JSON.parse(readFileSync(path.join(modules, name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    queue.push(...Object.keys(pkg.dependencies ?? {}));
  }
  return out;
}

const consumer = `
import express, { type ErrorRequestHandler } from 'express';
import {
  fedgate, requireAuth, authOf, withAuth, isAuthenticated, FedgateError,
  type AuthenticatedAuth, type AuthenticatedRequest, type FedgateViews, type Gateway,
} from 'fedgate';

const views: FedgateViews = {
  error: (ctx) => \`<h1>\${ctx.code}</h1><a href="\${ctx.homeUrl}">home</a>\`,
  forbidden: (ctx) => \`<a href="\${ctx.switchAccountUrl}">another account</a>\`,
  consent: (ctx) => \`<form method="\${ctx.form.method}" action="\${ctx.form.action}">\${Object.entries(ctx.form.fields).map(([k, v]) => k + v).join('')}<button name="\${ctx.decision.name}" value="\${ctx.decision.approve}">ok</button></form>\`,
};
const gateway: Gateway = fedgate('./gateway.json', { views, errorHandler: 'next' });
const app = express();
app.use(gateway);
app.get('/me', requireAuth(), (req, res) => {
  const auth: AuthenticatedAuth = authOf(req);
  const sub: string = auth.sub;
  const connector: string = auth.connector;
  const via: 'session' | 'bearer' = auth.via;
  res.json({ sub, connector, via, name: req.auth.claims.name, optional: req.auth.sub ?? null });
});
app.get('/typed', requireAuth({ scope: 'reports:read' }), withAuth((req, res) => {
  const sub: string = req.auth.sub;
  res.json({ sub, path: req.path });
}));
function handler(req: AuthenticatedRequest, res: express.Response): void {
  res.send(req.auth.connector.toUpperCase());
}
app.get('/plain', (req, res) => {
  if (isAuthenticated(req.auth)) res.send(req.auth.sub.toUpperCase());
  else res.sendStatus(401);
});
const onError: ErrorRequestHandler = (err, _req, res, _next) => {
  if (err instanceof FedgateError) res.status(err.status).send(err.code);
  else res.sendStatus(500);
};
app.use(onError);
export { handler };
`;

beforeAll(() => {
  if (!existsSync(path.join(repo, 'dist', 'index.d.ts'))) throw new Error('dist/index.d.ts is missing: run `npm run build` first (npm test does)');
  project = mkdtempSync(path.join(tmpdir(), 'fedgate-types-'));
  const target = path.join(project, 'node_modules', 'fedgate');
  mkdirSync(target, { recursive: true });
  cpSync(path.join(repo, 'package.json'), path.join(target, 'package.json'));
  cpSync(path.join(repo, 'dist'), path.join(target, 'dist'), { recursive: true, filter: (src) => !src.includes(`${path.sep}example-app`) });
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  // fedgate's runtime dependencies (what `npm install fedgate` brings) plus the two typings an Express app has.
  for (const name of closure([...Object.keys(pkg.dependencies), '@types/express', '@types/node'])) {
    if (name === '@types/express-session' || name === 'prom-client' || name === '@types/oidc-provider') continue;
    cpSync(path.join(modules, name), path.join(project, 'node_modules', name), { recursive: true, dereference: true });
  }
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(path.join(project, 'consumer.ts'), consumer);
  docSnippets().forEach((code, i) => {
    writeFileSync(path.join(project, `doc-snippet-${i}.ts`), code);
  });
}, 60_000);
afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** The TypeScript examples of docs/pages-and-types.md, compiled as consumer files. */
function docSnippets(): string[] {
  const text = readFileSync(path.join(repo, 'docs', 'pages-and-types.md'), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

function compile(module: 'node16' | 'nodenext'): Promise<{ code: number | null; output: string }> {
  const config = path.join(project, `tsconfig.${module}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: { module, moduleResolution: module, target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
      files: ['consumer.ts', ...docSnippets().map((_c, i) => `doc-snippet-${i}.ts`)],
    }),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', config], { cwd: project, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('the shipped declarations in a consumer project', () => {
  test('the docs page has its examples (compiled below)', () => {
    expect(docSnippets().length).toBe(3);
  });

  test('the consumer has no @types/express-session, no prom-client, no @types/oidc-provider', () => {
    for (const absent of ['@types/express-session', 'prom-client', '@types/oidc-provider']) {
      expect(existsSync(path.join(project, 'node_modules', absent))).toBe(false);
    }
    expect(existsSync(path.join(project, 'node_modules', '@types', 'express', 'index.d.ts'))).toBe(true);
  });

  test.each(['node16', 'nodenext'] as const)(
    'compile with --module %s and skipLibCheck: false',
    async (module) => {
      const result = await compile(module);
      expect(result.output).toBe('');
      expect(result.code).toBe(0);
    },
    120_000,
  );

  test('a type error in the consumer is reported (the check is real)', async () => {
    const broken = consumer.replace('const sub: string = req.auth.sub;', 'const sub: number = req.auth.sub;');
    writeFileSync(path.join(project, 'consumer.ts'), broken);
    try {
      const result = await compile('nodenext');
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/consumer\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
    } finally {
      writeFileSync(path.join(project, 'consumer.ts'), consumer);
    }
  }, 120_000);
});
