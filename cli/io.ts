import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FedgateError } from '../lib/errors.js';
import { isRecord } from '../lib/values.js';
export { isRecord };

/** Where a command writes: `out` is the report, `err` is for diagnostics. Injected so commands stay testable. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** Exit codes: 0 all good, 1 problems found (or bad input files), 2 the command line itself is wrong. */
export const exitCodes = { ok: 0, problems: 1, usage: 2 } as const;

/** A command-line mistake: unknown command or flag, missing argument, bad flag value. */
export function usageError(message: string): FedgateError {
  return new FedgateError('CLI_USAGE', message);
}

/** An input file that is missing, unreadable, not JSON or of the wrong shape. */
export function inputError(message: string): FedgateError {
  return new FedgateError('CLI_INPUT_INVALID', message);
}

/**
 * Parses a subcommand's arguments strictly (unknown options refused, positionals allowed); a bad
 * command line becomes the usage error (exit code 2). parseArgs messages name the flag, never a
 * value, so they are safe to print.
 */
export function parseCommand<const O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // Node appends advice about '--' that does not apply here.
    const message = err instanceof Error ? err.message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '') : 'bad arguments';
    throw usageError(message);
  }
}

/** Exactly `count` positional arguments, named for the error message. */
export function positionals(values: readonly string[], names: readonly string[]): string[] {
  if (values.length < names.length) throw usageError(`missing argument <${names[values.length]}>`);
  if (values.length > names.length) throw usageError(`unexpected argument "${values[names.length]}"`);
  return [...values];
}

/**
 * Reads a JSON file. The message says what is wrong with the file but quotes none of its
 * content: a key file or a claims sample may hold secrets or personal data.
 */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw inputError(code === 'ENOENT' ? `${what} ${file} does not exist` : `${what} ${file} cannot be read (${code ?? 'error'})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw inputError(`${what} ${file} is not valid JSON`);
  }
}

/** Reads a file as text, with the same error wording as {@link readJsonFile}. */
export async function readTextFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw inputError(code === 'ENOENT' ? `${what} ${file} does not exist` : `${what} ${file} cannot be read (${code ?? 'error'})`);
  }
}

/** A path as the user would recognise it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Pretty JSON, indented for a terminal. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
