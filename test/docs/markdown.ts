import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('../../', import.meta.url));

/** The user documentation: the README and every page under docs/. */
export const docFiles: string[] = [
  'README.md',
  ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`),
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
      file, line: i + 1, lang: open[1] ?? '', code: lines.slice(i + 1, end).join('\n'),
      ...(marker ? { notRunnable: marker[1]! } : {}), where: `${file}:${i + 1}`,
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
export const snippetEnv = new Proxy({}, {
  get: (_t, name) => {
    const n = String(name);
    if (/REDIS.*URL/.test(n)) return 'redis://127.0.0.1:6379/0';
    if (/URL|ISSUER/.test(n)) return 'https://idp.example.com';
    return 'example-value-0123456789-abcdefghijklmnopq';
  },
}) as Record<string, string>;

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
export type JsonKind = 'config' | 'connector' | 'connector-fragment' | 'log-line';

/** Classifies one JSON value of a snippet by its keys. */
export function jsonKind(value: unknown): JsonKind {
  const v = value as Json;
  if ('level' in v && 'msg' in v) return 'log-line';
  if ('baseUrl' in v || 'connectors' in v || 'op' in v || 'session' in v) return 'config';
  if ('id' in v && 'type' in v) return 'connector';
  return 'connector-fragment';
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
      const config: Json = { ...base, ...v };
      // A snippet that names its own key file needs no ephemeral keys.
      if (v.tokens === undefined) config.tokens = base.tokens;
      return config;
    }
    case 'connector':
      return { ...base, connectors: [v] };
    case 'connector-fragment':
      return { ...base, connectors: [{ ...base.connectors[0], ...v }] };
    case 'log-line':
      throw new Error('a log line is not a config');
  }
}
