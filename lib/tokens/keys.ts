import { createPrivateKey, createPublicKey, sign, verify, type JsonWebKey as NodeJwk } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { ConfigError } from '../errors.js';
import type { ConfigProblem } from '../errors.js';
import type { Logger } from '../logger.js';
import { isRecord } from '../values.js';
import { duplicateKeyProblems, readJsonFileSync } from '../config/file.js';

/**
 * Signing algorithms accepted for local keys. Asymmetric only: a published JWKS must never let
 * a verifier derive a signing secret (RFC 8725 §2.1, §3.1). `Ed25519` is the fully-specified name
 * of `EdDSA` over Ed25519 (RFC 9864); both are accepted.
 */
export const supportedAlgorithms = ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'] as const;
export type SigningAlgorithm = (typeof supportedAlgorithms)[number];

/** A key usable to verify local tokens; `alg` is pinned so a token cannot pick another one. */
export interface VerifyingKey {
  readonly alg: SigningAlgorithm;
  readonly key: CryptoKey;
}

/** The local keys: the first configured key signs, every key verifies and is published. */
export interface KeySet {
  readonly signing: { readonly kid: string; readonly alg: SigningAlgorithm; readonly key: CryptoKey };
  readonly verifying: ReadonlyMap<string, VerifyingKey>;
  /** The JWKS served at `/jwks.json` (RFC 7517 §5): public members, `kid`, `alg`, `use` only. */
  readonly publicJwks: { readonly keys: readonly JWK[] };
  /**
   * The private JWKS as loaded, signing key first (broker mode hands it to oidc-provider, which
   * needs JWKs). Non-enumerable, so logging or serializing a key set never prints key material.
   */
  readonly privateJwks?: { readonly keys: readonly JWK[] };
}

export interface LoadKeySetInput {
  /** `tokens.keys`: a file path (resolved against `baseDir`) or an inline private JWKS. */
  keys?: string | { keys: object[] };
  insecureEphemeralKeys?: boolean;
  baseDir: string;
  nodeEnv?: string;
  logger: Logger;
}

const MAX_KEYS = 32;
const MIN_RSA_BITS = 2048;

// Members that may be published, per key type (RFC 7518 §6). Everything else — d, p, q, dp, dq,
// qi, oth, k — is private and must never leave the process.
const publicMembers: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
  OKP: ['kty', 'crv', 'x'],
};

// What each algorithm needs of the key (RFC 7518 §3.3–3.5, RFC 8037 §3.1).
const keyShape: Record<SigningAlgorithm, { kty: string; crv?: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
};

function isSupportedAlg(value: unknown): value is SigningAlgorithm {
  return typeof value === 'string' && (supportedAlgorithms as readonly string[]).includes(value);
}

/** Size of an RSA modulus in bits, from its base64url form (leading zero bits not counted). */
function rsaModulusBits(n: string): number {
  const bytes = Buffer.from(n, 'base64url');
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

/**
 * Checks a private JWKS (RFC 7517 §5) for use as local signing keys, without touching crypto.
 * Reports every problem at once, each with a dotted path such as `tokens.keys.keys[1].alg`.
 * Messages name members, never their values, so no key material reaches a log.
 *
 * @param jwks the parsed `tokens.keys` value (or the content of the file it points to)
 * @param path the config path of the JWKS object, e.g. `tokens.keys`
 */
export function validatePrivateJwks(jwks: unknown, path: string): ConfigProblem[] {
  if (!isRecord(jwks)) return [{ path, message: 'must be a JWKS object { "keys": [...] }' }];
  const keys = jwks.keys;
  if (!Array.isArray(keys) || keys.length === 0) return [{ path: `${path}.keys`, message: 'must be a non-empty array of private JWKs' }];
  if (keys.length > MAX_KEYS) return [{ path: `${path}.keys`, message: `at most ${MAX_KEYS} keys` }];

  const problems: ConfigProblem[] = [];
  const kids = new Map<string, number>();
  keys.forEach((key: unknown, index) => {
    const at = `${path}.keys[${index}]`;
    const add = (member: string | null, message: string) => problems.push({ path: member ? `${at}.${member}` : at, message });
    if (!isRecord(key)) {
      add(null, 'must be a JWK object');
      return;
    }

    if (key.kty === 'oct') {
      add('kty', 'symmetric keys ("oct") are not allowed: verifiers would hold the signing secret; use an asymmetric key');
      return;
    }
    if (typeof key.kty !== 'string' || !(key.kty in publicMembers)) add('kty', 'must be "EC", "RSA" or "OKP"');

    if (typeof key.kid !== 'string' || key.kid.length === 0) add('kid', 'required (a non-empty string)');
    else if (kids.has(key.kid)) add('kid', `duplicate: keys[${kids.get(key.kid)}] has the same kid`);
    else kids.set(key.kid, index);

    if (key.alg === undefined) add('alg', `required, one of ${supportedAlgorithms.join(', ')}`);
    else if (typeof key.alg === 'string' && key.alg.toLowerCase() === 'none') add('alg', '"none" is not allowed: tokens must be signed');
    else if (!isSupportedAlg(key.alg)) add('alg', `must be one of ${supportedAlgorithms.join(', ')}`);
    else {
      const shape = keyShape[key.alg];
      if (key.kty !== shape.kty) add('kty', `must be "${shape.kty}" for alg ${key.alg}`);
      else if (shape.crv !== undefined && key.crv !== shape.crv) add('crv', `must be "${shape.crv}" for alg ${key.alg}`);
    }

    if (key.use !== undefined && key.use !== 'sig') add('use', 'must be "sig" when present');
    if (key.key_ops !== undefined && !(Array.isArray(key.key_ops) && key.key_ops.includes('sign'))) add('key_ops', 'must include "sign" when present');

    const members = typeof key.kty === 'string' ? publicMembers[key.kty] : undefined;
    for (const member of members ?? []) {
      if (member !== 'kty' && (typeof key[member] !== 'string' || key[member] === '')) add(member, 'required');
    }
    if (key.kty === 'RSA' && typeof key.n === 'string') {
      const bits = rsaModulusBits(key.n);
      if (bits < MIN_RSA_BITS) add('n', `RSA key is ${bits} bits; at least ${MIN_RSA_BITS} are required`);
    }
    if (key.oth !== undefined) add('oth', 'multi-prime RSA keys are not supported');
    if (typeof key.d !== 'string' || key.d === '') {
      add('d', 'required: this is a public key, tokens.keys needs private keys (the public part is published automatically)');
    }
  });
  return problems;
}

/**
 * Imports every key of a JWKS that passed {@link validatePrivateJwks} with node:crypto, which is
 * synchronous, and signs a probe with the private part and verifies it with the public members:
 * a mixed-up copy would otherwise publish a key that verifies none of the tokens.
 */
function importProblemsSync(keys: readonly Record<string, unknown>[], path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const probe = Buffer.from('fedgate key check');
  keys.forEach((jwk, index) => {
    const at = `${path}.keys[${index}]`;
    const publicJwk: Record<string, unknown> = {};
    for (const member of publicMembers[String(jwk.kty)] ?? []) publicJwk[member] = jwk[member];
    let matches: boolean;
    try {
      const privateKey = createPrivateKey({ key: jwk as NodeJwk, format: 'jwk' });
      const publicKey = createPublicKey({ key: publicJwk as NodeJwk, format: 'jwk' });
      // Ed25519 takes no digest; the others sign a SHA-256 digest (the padding does not matter here).
      const digest = jwk.kty === 'OKP' ? null : 'sha256';
      matches = verify(digest, probe, publicKey, sign(digest, probe, privateKey));
    } catch {
      problems.push({ path: at, message: 'cannot be imported: invalid key parameters for its kty/crv/alg' });
      return;
    }
    if (!matches) problems.push({ path: at, message: 'its public members do not belong to its private key' });
  });
  return problems;
}

/**
 * Checks `tokens.keys` completely and synchronously, as `fedgate()` validates the rest of the
 * configuration: reads the file (UTF-8, strict JSON, no duplicate keys), validates the private
 * JWKS and imports every key. Messages name files and members, never key material.
 *
 * @param keys `tokens.keys`: a file path (resolved against `baseDir`) or an inline JWKS
 * @param path the config path, `tokens.keys`
 */
export function checkPrivateJwksSync(keys: string | { keys: readonly object[] }, baseDir: string, path: string): ConfigProblem[] {
  let jwks: unknown = keys;
  const problems: ConfigProblem[] = [];
  if (typeof keys === 'string') {
    const file = resolve(baseDir, keys);
    const read = readJsonFileSync(file);
    if (!read.ok) {
      const message =
        read.kind === 'unreadable'
          ? `cannot read "${file}" as a JSON JWKS file (${read.reason})`
          : read.kind === 'encoding'
            ? `"${file}" ${read.reason}`
            : `"${file}" is not valid JSON: ${read.reason}`;
      return [{ path, message }];
    }
    jwks = read.value;
    problems.push(...duplicateKeyProblems(read.duplicates, basename(file), path));
  }
  const shape = validatePrivateJwks(jwks, path);
  if (shape.length > 0) return [...problems, ...shape];
  return [...problems, ...importProblemsSync((jwks as { keys: Record<string, unknown>[] }).keys, path)];
}

/** Copies only the publishable members of a JWK and marks it for signatures (RFC 7517 §4.2). */
function toPublicJwk(jwk: Record<string, unknown>, kid: string, alg: SigningAlgorithm): JWK {
  const out: Record<string, unknown> = {};
  for (const member of publicMembers[String(jwk.kty)] ?? []) out[member] = jwk[member];
  return Object.freeze({ ...out, kid, alg, use: 'sig' }) as JWK;
}

async function importKey(jwk: JWK, alg: SigningAlgorithm): Promise<CryptoKey> {
  const key = await importJWK(jwk, alg);
  // importJWK only returns bytes for "oct" keys, which validation has already refused.
  if (key instanceof Uint8Array) throw new TypeError('symmetric key');
  return key;
}

/**
 * Generates a private signing JWK with `kid` set to its RFC 7638 thumbprint, `alg` and
 * `use: "sig"`. Used for ephemeral development keys and by the CLI to create `tokens.keys`.
 *
 * @param alg one of {@link supportedAlgorithms}; RSA keys are 2048 bits
 */
export async function generatePrivateJwk(alg: SigningAlgorithm = 'ES256'): Promise<JWK> {
  if (!isSupportedAlg(alg)) throw new TypeError(`generatePrivateJwk: unsupported alg; use one of ${supportedAlgorithms.join(', ')}`);
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { ...jwk, kid, alg, use: 'sig' };
}

async function readKeyFile(file: string, baseDir: string): Promise<unknown> {
  const resolved = resolve(baseDir, file);
  try {
    return JSON.parse(await readFile(resolved, 'utf8')) as unknown;
  } catch {
    // Neither the parse error nor the content is reported: either could quote key material.
    throw new ConfigError([{ path: 'tokens.keys', message: `cannot read "${resolved}" as a JSON JWKS file` }], 'CONFIG_FILE_UNREADABLE');
  }
}

async function ephemeralJwks(input: LoadKeySetInput): Promise<{ keys: JWK[] }> {
  if (!input.insecureEphemeralKeys) {
    throw new ConfigError([{ path: 'tokens.keys', message: 'required (or set tokens.insecureEphemeralKeys for development)' }]);
  }
  if (input.nodeEnv === 'production') {
    throw new ConfigError([{ path: 'tokens.insecureEphemeralKeys', message: 'refused with NODE_ENV=production; configure tokens.keys' }]);
  }
  const jwk = await generatePrivateJwk('ES256');
  input.logger.warn(
    { kid: jwk.kid, setting: 'tokens.insecureEphemeralKeys' },
    'INSECURE: local tokens are signed with a key generated at startup. Tokens die on restart and differ between instances. Development only: configure tokens.keys.',
  );
  return { keys: [jwk] };
}

/**
 * Loads the local signing keys (`tokens.keys`): validates the private JWKS completely, imports
 * the first key for signing and every key for verification, and derives the public JWKS.
 * Keeping retired keys after the signing key lets tokens they signed verify until they expire
 * (rotation without logging anyone out).
 *
 * @throws ConfigError `CONFIG_FILE_UNREADABLE` when the key file cannot be read or parsed,
 *   `CONFIG_INVALID` listing every problem otherwise (including production use of ephemeral keys)
 */
export async function loadKeySet(input: LoadKeySetInput): Promise<KeySet> {
  const jwks =
    input.keys === undefined ? await ephemeralJwks(input) : typeof input.keys === 'string' ? await readKeyFile(input.keys, input.baseDir) : input.keys;

  const problems = validatePrivateJwks(jwks, 'tokens.keys');
  if (problems.length > 0) throw new ConfigError(problems);
  // validatePrivateJwks has checked the shape; the cast only restates it.
  const keys = (jwks as { keys: Array<JWK & { kid: string; alg: SigningAlgorithm }> }).keys;

  const verifying = new Map<string, VerifyingKey>();
  const published: JWK[] = [];
  let signingKey: CryptoKey | undefined;
  const importProblems: ConfigProblem[] = [];
  for (const [index, jwk] of keys.entries()) {
    const publicJwk = toPublicJwk(jwk, jwk.kid, jwk.alg);
    try {
      // Private members are checked for every key, not only the signer, so a broken rotation
      // key is found at startup rather than on the day it is promoted.
      const privateKey = await importKey({ ...jwk, ext: false }, jwk.alg);
      if (index === 0) signingKey = privateKey;
      verifying.set(jwk.kid, Object.freeze({ alg: jwk.alg, key: await importKey(publicJwk, jwk.alg) }));
      published.push(publicJwk);
    } catch {
      importProblems.push({ path: `tokens.keys.keys[${index}]`, message: 'cannot be imported: invalid key parameters for its kty/crv/alg' });
    }
  }
  if (importProblems.length > 0 || signingKey === undefined) throw new ConfigError(importProblems);

  const first = keys[0]!;
  const keySet = {
    signing: Object.freeze({ kid: first.kid, alg: first.alg, key: signingKey }),
    verifying,
    publicJwks: Object.freeze({ keys: Object.freeze(published) }),
  };
  const privateJwks = Object.freeze({ keys: Object.freeze(keys.map((k) => Object.freeze({ ...k }))) });
  Object.defineProperty(keySet, 'privateJwks', { value: privateJwks, enumerable: false });
  return Object.freeze(keySet);
}
