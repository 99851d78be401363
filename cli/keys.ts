import { randomBytes } from 'node:crypto';
import { access, chmod, link, mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generatePrivateJwk, supportedAlgorithms, validatePrivateJwks, type SigningAlgorithm } from '../lib/tokens/keys.js';
import { displayPath, exitCodes, inputError, isRecord, parseCommand, positionals, readJsonFile, usageError, type Io } from './io.js';

export const keysUsage = `Usage:
  fedgate keys generate [--alg ES256|RS256|PS256|EdDSA] [--out jwks.json] [--force]
  fedgate keys rotate <jwks.json> [--alg <alg>]      add a new key LAST: published now, signing later
  fedgate keys rotate <jwks.json> --promote          the newest (last) key becomes the signing key
  fedgate keys rotate <jwks.json> --retire <kid>     remove a key that no longer signs

Writes private JWKS files (mode 0600) for tokens.keys. The first key signs, every key is published.
Without --out, generate prints the private JWKS to standard output; --out creates missing folders (mode 0700).
Rotation without logging anyone out (publish first, sign later, retire last):
  1. fedgate keys rotate jwks.json      deploy everywhere; verifiers learn the new public key
  2. fedgate keys rotate jwks.json --promote   after verifiers refreshed their JWKS cache; deploy
  3. fedgate keys rotate jwks.json --retire <old kid>   after the longest token lifetime; deploy`;

type Jwk = Record<string, unknown> & { kid: string; alg: string };

function readAlg(value: string | undefined): SigningAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!(supportedAlgorithms as readonly string[]).includes(value)) throw usageError(`--alg must be one of ${supportedAlgorithms.join(', ')}`);
  return value as SigningAlgorithm;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Creates the folder of a key file (and its parents) with mode 0700 when it is missing, so
 * `--out keys/jwks.json` works on a fresh checkout. Returns the first folder it created.
 */
async function ensureKeyFolder(dir: string): Promise<string | undefined> {
  try {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir applies the umask; a key folder is exactly owner-only. `created` is the top folder made.
    if (created !== undefined) {
      for (let d = dir; d.length >= created.length; d = path.dirname(d)) await chmod(d, 0o700);
    }
    return created;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const blocker = code === 'ENOTDIR' || code === 'EEXIST' ? await firstNonFolder(dir) : dir;
    throw inputError(`cannot create folder ${displayPath(blocker)} (${code === 'EEXIST' ? 'ENOTDIR' : (code ?? 'error')})`);
  }
}

/** The nearest ancestor of `dir` that exists but is not a folder (what blocked mkdir). */
async function firstNonFolder(dir: string): Promise<string> {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st && !st.isDirectory()) return d;
  }
  return dir;
}

/**
 * Writes a private JWKS with mode 0600 through a temporary file in the same folder, so a reader
 * never sees half a file. Without `overwrite`, `link` fails atomically when the target exists.
 */
async function writePrivateJwks(file: string, jwks: { keys: object[] }, overwrite: boolean): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const dir = displayPath(path.dirname(file));
    throw inputError(code === 'ENOENT' ? `folder ${dir} does not exist` : `cannot write in ${dir} (${code ?? 'error'})`);
  }
  try {
    await chmod(tmp, 0o600); // the umask may have narrowed it further, never widened; make it exact
    if (overwrite) {
      await rename(tmp, file);
      return;
    }
    try {
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw inputError(`${displayPath(file)} already exists; use --force to overwrite it`);
      throw inputError(`cannot write ${displayPath(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** `fedgate keys generate|rotate`. */
export async function runKeys(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  // `--help` anywhere asks for the usage, before any flag is validated (exit 0, on stdout).
  if (sub === undefined || sub === 'help' || args.includes('--help') || args.includes('-h')) {
    io.out(keysUsage);
    return sub === undefined ? exitCodes.usage : exitCodes.ok;
  }
  if (sub === 'generate') return generate(rest, io);
  if (sub === 'rotate') return rotate(rest, io);
  throw usageError(`unknown keys command "${sub}"; use generate or rotate`);
}

async function generate(args: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {
    alg: { type: 'string' },
    out: { type: 'string', short: 'o' },
    force: { type: 'boolean' },
  });
  positionals(rest, []);
  const alg = readAlg(values.alg) ?? 'ES256';
  if (values.force && values.out === undefined) throw usageError('--force only applies with --out');
  const jwk = await generatePrivateJwk(alg);
  const jwks = { keys: [jwk] };
  if (values.out === undefined) {
    // Asked for on standard output: the caller redirects it. Nothing else goes to stdout.
    io.out(JSON.stringify(jwks, null, 2));
    return exitCodes.ok;
  }
  const file = path.resolve(values.out);
  if (!values.force && (await exists(file))) throw inputError(`${displayPath(file)} already exists; use --force to overwrite it`);
  const created = await ensureKeyFolder(path.dirname(file));
  if (created !== undefined) io.out(`created folder ${displayPath(created)} (mode 0700)`);
  await writePrivateJwks(file, jwks, values.force === true);
  io.out(`wrote ${displayPath(file)} (mode 0600): 1 private key, ${alg}, kid ${String(jwk.kid)}`);
  io.out('Point tokens.keys at this file. Keep it out of version control.');
  return exitCodes.ok;
}

async function readKeyFile(file: string): Promise<Jwk[]> {
  const jwks = await readJsonFile(file, 'key file');
  const problems = validatePrivateJwks(jwks, 'jwks');
  if (problems.length) {
    const lines = problems.map((p) => `  ${p.path === 'jwks' ? '(root)' : p.path.replace(/^jwks\./, '')}: ${p.message}`);
    throw inputError(`${displayPath(file)} is not a valid private JWKS:\n${lines.join('\n')}`);
  }
  // validatePrivateJwks has checked every key has a string kid and alg.
  return (jwks as { keys: unknown[] }).keys.filter(isRecord) as Jwk[];
}

/**
 * `--retire <kid>` as one `--retire=<kid>`: a kid is an RFC 7638 thumbprint in base64url, which
 * may start with "-", and parseArgs would take such a value for an option of its own.
 */
function joinRetireValue(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === '--retire' && next !== undefined) {
      out.push(`--retire=${next}`);
      i++;
    } else {
      out.push(args[i]!);
    }
  }
  return out;
}

async function rotate(argv: string[], io: Io): Promise<number> {
  const args = joinRetireValue(argv);
  const { values, positionals: rest } = parseCommand(args, {
    alg: { type: 'string' },
    promote: { type: 'boolean' },
    retire: { type: 'string' },
  });
  const [given] = positionals(rest, ['jwks.json']) as [string];
  const modes = [values.alg !== undefined, values.promote === true, values.retire !== undefined].filter(Boolean).length;
  if (modes > 1) throw usageError('use one of --alg, --promote or --retire at a time');
  const alg = readAlg(values.alg);
  const file = path.resolve(given);
  const keys = await readKeyFile(file);
  const shown = displayPath(file);

  if (values.promote) {
    if (keys.length < 2) throw inputError(`${shown} has one key: nothing to promote; run "fedgate keys rotate ${given}" first`);
    const newest = keys.pop()!;
    const previous = keys[0]!;
    await writePrivateJwks(file, { keys: [newest, ...keys] }, true);
    io.out(`${shown}: kid ${newest.kid} (${newest.alg}) now signs.`);
    io.out(`kid ${previous.kid} stays published so the tokens it signed keep verifying until they expire.`);
    io.out(`Deploy the file to every instance. After the longest token lifetime (tokens.accessTokenTtl and idTokenTtl, default 300 s), run:`);
    io.out(`  fedgate keys rotate ${given} --retire ${previous.kid}`);
    return exitCodes.ok;
  }
  if (values.retire !== undefined) {
    const at = keys.findIndex((k) => k.kid === values.retire);
    if (at === -1) throw inputError(`${shown} has no key with kid "${values.retire}"; kids: ${keys.map((k) => k.kid).join(', ')}`);
    if (at === 0) throw inputError(`kid ${values.retire} is the signing key of ${shown}; promote another key first`);
    keys.splice(at, 1);
    await writePrivateJwks(file, { keys }, true);
    io.out(`${shown}: removed kid ${values.retire}; ${keys.length} key${keys.length === 1 ? '' : 's'} left, kid ${keys[0]!.kid} signs.`);
    return exitCodes.ok;
  }
  if (keys.length >= 32) throw inputError(`${shown} already holds 32 keys; retire old ones first`);
  const jwk = await generatePrivateJwk(alg ?? (keys[0]!.alg as SigningAlgorithm));
  await writePrivateJwks(file, { keys: [...keys, jwk] }, true);
  io.out(`${shown}: added kid ${String(jwk.kid)} (${String(jwk.alg)}) last. It is published now; kid ${keys[0]!.kid} still signs.`);
  io.out('Deploy the file to every instance, wait until the verifiers of your tokens have refreshed their JWKS cache, then run:');
  io.out(`  fedgate keys rotate ${given} --promote`);
  return exitCodes.ok;
}
