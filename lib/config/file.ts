import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { decodeUtf8, JsonSyntaxError, parseJsonStrict, type JsonDuplicateKey } from './json.js';
import { formatPath } from './paths.js';

/** A JSON file read strictly, or why it could not be (the reason quotes none of its content). */
export type JsonFileResult =
  | { ok: true; value: unknown; duplicates: JsonDuplicateKey[] }
  | { ok: false; kind: 'unreadable' | 'encoding' | 'syntax'; reason: string };

/**
 * Reads a JSON file synchronously: UTF-8 only (no silent U+FFFD), strict syntax with line and
 * column on error, and every duplicated key reported.
 */
export function readJsonFileSync(file: string): JsonFileResult {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      kind: 'unreadable',
      reason: code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a folder' : `error ${code ?? 'unknown'}`,
    };
  }
  const decoded = decodeUtf8(bytes);
  if ('reason' in decoded) return { ok: false, kind: 'encoding', reason: decoded.reason };
  try {
    return { ok: true, ...parseJsonStrict(decoded.text) };
  } catch (err) {
    if (err instanceof JsonSyntaxError) return { ok: false, kind: 'syntax', reason: err.message };
    throw err;
  }
}

/** `duplicate key in gateway.json (line 3, column 5)` problems, one per duplicated key, by config path. */
export function duplicateKeyProblems(duplicates: readonly JsonDuplicateKey[], fileName: string, prefix = ''): ConfigProblem[] {
  return duplicates.map((d) => {
    const p = formatPath(d.path);
    return {
      path: prefix ? (p === '(root)' ? prefix : `${prefix}.${p}`.replace('.[', '[')) : p,
      message: `duplicate key in ${fileName} (line ${d.line}, column ${d.column}): JSON would silently keep only the last one`,
    };
  });
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Reads a gateway config file. Duplicate keys come back as problems (reported together with
 * every other problem); a file that cannot be used at all throws.
 *
 * @throws ConfigError `CONFIG_FILE_UNREADABLE` (missing, not UTF-8, not JSON: line and column
 *   named) or `CONFIG_INVALID` (the top level is not an object), each naming the file
 */
export function readConfigFile(file: string): { raw: Record<string, unknown>; problems: ConfigProblem[] } {
  const name = path.basename(file);
  const read = readJsonFileSync(file);
  if (!read.ok) {
    const message =
      read.kind === 'unreadable' ? `${name} cannot be read` : read.kind === 'encoding' ? `${name} ${read.reason}` : `${name} is not valid JSON: ${read.reason}`;
    throw new ConfigError([{ path: '(file)', message }], 'CONFIG_FILE_UNREADABLE');
  }
  const raw = read.value;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ path: '(root)', message: `${name} must contain a JSON object, not ${kindOf(raw)}` }]);
  }
  return { raw: raw as Record<string, unknown>, problems: duplicateKeyProblems(read.duplicates, name) };
}

/** Every own `__proto__` key in a JSON value, by path: no config key has that name, and zod drops it silently. */
export function protoKeyProblems(value: unknown, at: PropertyKey[] = []): ConfigProblem[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => protoKeyProblems(v, [...at, i]));
  if (value === null || typeof value !== 'object') return [];
  const problems: ConfigProblem[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k === '__proto__') problems.push({ path: formatPath([...at, k]), message: 'is not an allowed key' });
    else problems.push(...protoKeyProblems(v, [...at, k]));
  }
  return problems;
}
