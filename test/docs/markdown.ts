import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConfigSchema } from '../../lib/config/schema.js';
import { builtinConnectors } from '../../connectors/registry.js';

/** The repository root. */
export const root = fileURLToPath(new URL('../../', import.meta.url));

/** The user documentation: the README and every page under docs/. */
export const docFiles: string[] = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/**
 * A block a page marks as not runnable: `<!-- snippet: not-runnable (why) -->` on the line before
 * the fence. The reason is required and shown in test names.
 */
const markerPattern = /^<!-- snippet: not-runnable \((.+)\) -->$/;

/** One fenced code block of a page. */
export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  /** The reason given by a not-runnable marker, if any. */
  notRunnable?: string;
  /** Where it is, for test names: `README.md:42`. */
  where: string;
}

/** Every fenced code block of a page, in order. */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code block`);
    const marker = markerPattern.exec(lines[i - 1]?.trim() ?? '');
    blocks.push({
      file,
      line: i + 1,
      lang: open[1] ?? '',
      code: lines.slice(i + 1, end).join('\n'),
      ...(marker ? { notRunnable: marker[1]! } : {}),
      where: `${file}:${i + 1}`,
    });
    i = end;
  }
  return blocks;
}

/** Every code block of the user documentation. */
export function allCodeBlocks(): CodeBlock[] {
  return docFiles.flatMap(codeBlocks);
}

type Json = Record<string, unknown>;

/**
 * Environment for `${env:NAME}` in snippets: every variable is set, by its name's kind (a Redis
 * URL, another URL, else a value long enough for any secret).
 */
export const snippetEnv = new Proxy(
  {},
  {
    get: (_t, name) => {
      const n = String(name);
      if (/REDIS.*URL/.test(n)) return 'redis://127.0.0.1:6379/0';
      if (/URL|ISSUER/.test(n)) return 'https://idp.example.com';
      return 'example-value-0123456789-abcdefghijklmnopq';
    },
  },
) as Record<string, string>;

let workDir: string | undefined;

/**
 * A folder to load snippet configs from: it holds the signing key file the examples name
 * (`./keys/jwks.json`, a private ES256 JWKS as `fedgate keys generate` writes it), so a config
 * that points at its key file loads as it would in a user's project. `removeSnippetCwd()` in
 * afterAll deletes it.
 */
export function snippetCwd(): string {
  if (workDir) return workDir;
  workDir = mkdtempSync(path.join(tmpdir(), 'fedgate-snippets-'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'snippet-key', alg: 'ES256', use: 'sig' };
  mkdirSync(path.join(workDir, 'keys'));
  writeFileSync(path.join(workDir, 'keys', 'jwks.json'), JSON.stringify({ keys: [jwk] }), { mode: 0o600 });
  return workDir;
}

/** Deletes the folder of `snippetCwd()`, if one was made. */
export function removeSnippetCwd(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

/** The parts a snippet may leave out, so that a fragment becomes a whole config. */
const base = {
  baseUrl: 'https://app.example.com',
  session: { secret: 'a-session-secret-with-enough-entropy-0123456789', insecureMemoryStore: true },
  tokens: { insecureEphemeralKeys: true },
  connectors: [{ id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'app' }],
};

/** The JSON values of a ```json block: one document, or one per line (a list of entries). */
export function jsonValues(block: CodeBlock): unknown[] {
  try {
    return [JSON.parse(block.code)];
  } catch {
    const lines = block.code.split('\n').filter((l) => l.trim() !== '');
    try {
      return lines.map((l) => JSON.parse(l) as unknown);
    } catch (err) {
      throw new Error(`${block.where}: not JSON, neither one document nor one per line (${(err as Error).message})`);
    }
  }
}

/** What a JSON snippet is. */
export type JsonKind = 'config' | 'connector' | 'connector-fragment' | 'log-line' | 'other';

const topLevelKeys = new Set(Object.keys(buildConfigSchema(builtinConnectors).shape).filter((k) => k !== '$schema'));
const connectorKeys = new Set([...builtinConnectors.values()].flatMap((t) => Object.keys((t.schema as unknown as { shape: object }).shape)));

/**
 * Classifies one JSON value of a snippet by its keys: a config (any top-level config key), a
 * connector entry (`id` and `type`), part of one (any connector key), a log line, or other JSON
 * (a token payload, a JWKS, a response: only parsed).
 */
export function jsonKind(value: unknown): JsonKind {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'other';
  const keys = Object.keys(value);
  if (keys.includes('level') && keys.includes('msg')) return 'log-line';
  if (keys.some((k) => topLevelKeys.has(k))) return 'config';
  if (keys.includes('id') && keys.includes('type')) return 'connector';
  if (keys.some((k) => connectorKeys.has(k))) return 'connector-fragment';
  return 'other';
}

/**
 * The whole config a snippet value stands for: a config as is (with the parts it leaves out
 * from a minimal base), a connector entry as the only connector, a fragment of a connector
 * (e.g. `{ "claims": ... }`) merged into the base connector.
 */
export function asWholeConfig(value: unknown): Json {
  const v = value as Json;
  switch (jsonKind(v)) {
    case 'config': {
      // Sections merge with the base's; a snippet's own Redis or key file replaces the
      // development-only stand-ins (they cannot be combined).
      const session = { ...base.session, ...(v.session as Json | undefined) };
      if ('redis' in session) delete (session as Json).insecureMemoryStore;
      const tokens = { ...base.tokens, ...(v.tokens as Json | undefined) };
      if ('keys' in tokens) delete (tokens as Json).insecureEphemeralKeys;
      return { ...base, ...v, session, tokens };
    }
    case 'connector':
      return { ...base, connectors: [v] };
    case 'connector-fragment':
      return { ...base, connectors: [{ ...base.connectors[0], ...v }] };
    case 'log-line':
    case 'other':
      throw new Error('not a config');
  }
}
