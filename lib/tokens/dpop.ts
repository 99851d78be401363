import { createHash, hash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as joseErrors, jwtVerify } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import { FedgateError } from '../errors.js';
import { isRecord } from '../values.js';

/**
 * DPoP proofs at the resource (RFC 9449 §4.3, §7.1), framework-free: the caller hands in the
 * `DPoP` header, the request's method and external URL, and a replay guard.
 */

/** Asymmetric algorithms accepted in proofs; the provider advertises the same list. */
export const dpopAlgorithms = ['ES256', 'ES384', 'PS256', 'Ed25519', 'EdDSA'] as const;

/** A proof that passed every check that does not depend on the access token. */
export interface DpopProof {
  /** JWK SHA-256 thumbprint (RFC 7638) of the proof's key. */
  readonly jkt: string;
  readonly ath?: string;
}

export interface DpopCheckOptions {
  /** The `DPoP` request header(s). */
  header: string | string[] | undefined;
  /** The request method. */
  method: string;
  /** The request's external URL (from `baseUrl`); query and fragment are ignored. */
  url: string;
  /** Current time, epoch milliseconds. */
  now: () => number;
  /**
   * Remembers `key` for `ttlSeconds`; false when it was already there (a replayed `jti`).
   * Backed by Redis, so a proof is single use across instances.
   */
  remember: (key: string, ttlSeconds: number) => Promise<boolean>;
}

/** How old a proof may be, and how far ahead of our clock its `iat` may lie (seconds). */
export const proofMaxAge = 60;
export const proofLeeway = 5;

/** Proofs are small; anything larger is refused before any decoding. */
const maxProofBytes = 4096;
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
// Members that exist only on private or symmetric keys (RFC 7518 §6.2.2, §6.3.2, §6.4.1, RFC 8037 §2).
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

const sha256 = (value: string): string =>
  typeof hash === 'function' ? hash('sha256', value, 'base64url') : createHash('sha256').update(value).digest('base64url');

/** `ath` of an access token: base64url(SHA-256(token)) (RFC 9449 §4.2). */
export const accessTokenHash = (token: string): string => sha256(token);

function proofInvalid(detail: string, cause?: unknown): FedgateError {
  return new FedgateError('DPOP_PROOF_INVALID', 'DPoP proof invalid', { detail, cause });
}

/** The external URL without query and fragment, normalised by the URL parser (RFC 9449 §4.3 item 9). */
function normaliseHtu(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const u = URL.parse(value);
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) return undefined;
  u.search = '';
  u.hash = '';
  return u.href;
}

function checkHeader(proof: string): JWK {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(proof) as Record<string, unknown>;
  } catch (err) {
    throw proofInvalid('header is not a JSON object', err);
  }
  if (header.typ !== 'dpop+jwt') throw proofInvalid('typ is not dpop+jwt');
  if (typeof header.alg !== 'string' || !(dpopAlgorithms as readonly string[]).includes(header.alg)) throw proofInvalid('alg not allowed');
  const jwk = header.jwk;
  if (!isRecord(jwk)) throw proofInvalid('no jwk header');
  for (const m of privateMembers) if (Object.hasOwn(jwk, m)) throw proofInvalid('jwk header carries private key material');
  return jwk as JWK;
}

async function verifySignature(proof: string): Promise<JWTPayload> {
  try {
    // EmbeddedJWK: the key is the one in the header; the signature proves possession of it.
    const { payload } = await jwtVerify(proof, EmbeddedJWK, { algorithms: [...dpopAlgorithms], typ: 'dpop+jwt' });
    return payload;
  } catch (err) {
    throw proofInvalid(err instanceof joseErrors.JOSEError ? err.code : 'verification error', err);
  }
}

function checkClaims(payload: JWTPayload, opts: DpopCheckOptions): { jti: string; iat: number } {
  const { jti, iat, htm, htu, ath } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw proofInvalid('jti missing or too long');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw proofInvalid('iat missing');
  const nowS = opts.now() / 1000;
  if (iat < nowS - proofMaxAge) throw proofInvalid('iat too old');
  if (iat > nowS + proofLeeway) throw proofInvalid('iat in the future');
  if (htm !== opts.method) throw proofInvalid('htm does not match the request method');
  const expected = normaliseHtu(opts.url);
  if (expected === undefined || normaliseHtu(htu) !== expected) throw proofInvalid('htu does not match the request URL');
  if (ath !== undefined && typeof ath !== 'string') throw proofInvalid('ath is not a string');
  return { jti, iat };
}

/**
 * Verifies a DPoP proof for one request (RFC 9449 §4.3): exactly one `DPoP` header holding a
 * compact JWS with `typ: dpop+jwt`, an asymmetric `alg`, a public `jwk` that verifies the
 * signature, `htm`/`htu` of this request, a recent `iat` and a `jti` never seen before.
 * Throws `DPOP_PROOF_INVALID` (401) otherwise.
 */
export async function verifyDpopProof(opts: DpopCheckOptions): Promise<DpopProof> {
  const proof = opts.header;
  if (proof === undefined || proof === '') throw proofInvalid('no DPoP header');
  if (typeof proof !== 'string' || proof.includes(',')) throw proofInvalid('more than one DPoP header');
  if (proof.length > maxProofBytes) throw proofInvalid('proof too large');
  if (!compactJws.test(proof)) throw proofInvalid('not a compact JWS');
  const jwk = checkHeader(proof);
  const payload = await verifySignature(proof);
  const { jti } = checkClaims(payload, opts);
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  // Single use, per key: the guard outlives the window in which the proof would be accepted.
  if (!(await opts.remember(`dpop:${sha256(`${jkt}:${jti}`)}`, proofMaxAge + proofLeeway + 5))) throw proofInvalid('jti replayed');
  return { jkt, ...(typeof payload.ath === 'string' ? { ath: payload.ath } : {}) };
}

/**
 * Binds the proof to the access token (RFC 9449 §7.1): its `ath` is the token's hash, and its key
 * is the one the token names in `cnf.jkt`. A token without `cnf.jkt` is not bound and so cannot be
 * used with the DPoP scheme. Throws `DPOP_PROOF_INVALID` for a wrong `ath`, `DPOP_BINDING_INVALID`
 * for a key or token that does not match.
 */
export function checkDpopBinding(proof: DpopProof, token: string, claims: JWTPayload): void {
  if (proof.ath !== accessTokenHash(token)) throw proofInvalid('ath does not match the access token');
  const jkt = boundKeyOf(claims);
  if (jkt === undefined) throw new FedgateError('DPOP_BINDING_INVALID', 'Access token is not DPoP-bound', { detail: 'no cnf.jkt' });
  if (jkt !== proof.jkt) throw new FedgateError('DPOP_BINDING_INVALID', 'DPoP key does not match the access token', { detail: 'jkt mismatch' });
}

/** The `cnf.jkt` of a token (RFC 9449 §6.1), when it is DPoP-bound. */
export function boundKeyOf(claims: JWTPayload): string | undefined {
  const cnf = claims.cnf;
  return isRecord(cnf) && typeof cnf.jkt === 'string' ? cnf.jkt : undefined;
}

/**
 * The `WWW-Authenticate` value of a DPoP failure (RFC 9449 §7.1): the accepted algorithms and the
 * RFC 6750 error (`invalid_dpop_proof` or `invalid_token`).
 */
export function dpopChallenge(error: 'invalid_dpop_proof' | 'invalid_token'): string {
  return `DPoP algs="${dpopAlgorithms.join(' ')}", error="${error}"`;
}
