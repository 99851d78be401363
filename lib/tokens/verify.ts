import { createHash, hash } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import { FedgateError } from '../errors.js';
import type { KeySet } from './keys.js';
import { deepFreeze } from '../values.js';

/** A local access token that passed every check. Frozen: it may be shared through the cache. */
export interface VerifiedAccessToken {
  readonly sub: string;
  /** The `scope` claim split on spaces (RFC 9068 §2.2.3); empty when absent. */
  readonly scope: readonly string[];
  /** The whole payload. */
  readonly claims: Readonly<JWTPayload>;
  /** Epoch seconds. */
  readonly exp: number;
  readonly sid?: string;
  readonly jti: string;
}

export interface AccessTokenVerifierOptions {
  keySet: KeySet;
  issuer: string;
  audience: string;
  /** Current time in epoch milliseconds. */
  now: () => number;
  /** Tokens longer than this are refused before any decoding. Default 8192. */
  maxTokenBytes?: number;
  /** Seconds of leeway for `exp`/`nbf`/`iat`. Default 5. */
  clockTolerance?: number;
  /** Remember verified tokens (by SHA-256) until they expire. Default true. */
  cache?: boolean;
  /** Cache capacity. Default 10000. */
  cacheSize?: number;
}

export type AccessTokenVerifier = ((token: string) => Promise<VerifiedAccessToken>) & {
  /** The cached result for these exact bytes when they verified before and have not expired; no crypto. */
  peek(token: string): VerifiedAccessToken | undefined;
};

// Three non-empty base64url segments (RFC 7515 §7.1). Requiring a signature segment turns away
// unsecured JWTs (`alg: none`, RFC 7519 §6) before anything is decoded.
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// Header members that would let the token choose its own verification key or processing rules
// (RFC 8725 §3.10, RFC 7515 §4.1.3–4.1.6, §4.1.11). Local tokens never carry them.
const forbiddenHeaders = ['jwk', 'jku', 'x5u', 'x5c', 'crit'] as const;

function fail(message: string, detail: string, cause?: unknown): FedgateError {
  return new FedgateError('TOKEN_INVALID', message, { detail, cause });
}

const invalid = (detail: string, cause?: unknown) => fail('Access token invalid', detail, cause);

function isAccessTokenTyp(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === 'at+jwt' || t === 'application/at+jwt';
}

/** Cheap checks that run before anything is hashed, decoded or verified. */
function checkShape(token: unknown, maxTokenBytes: number): asserts token is string {
  // The size cap runs first of all: hashing, decoding or verifying a huge string is the cost an
  // attacker wants us to pay. Past the regex the token is ASCII, so length equals bytes.
  if (typeof token !== 'string') throw invalid('not a string');
  if (token.length > maxTokenBytes) throw fail('Access token too large', `longer than ${maxTokenBytes} bytes`);
  if (!compactJws.test(token)) throw fail('Access token malformed', 'not a compact JWS');
}

/** Decodes and vets the protected header; returns the local key the token must verify with. */
function selectKey(token: string, keySet: KeySet) {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch (err) {
    throw fail('Access token malformed', 'header is not a JSON object', err);
  }
  for (const name of forbiddenHeaders) {
    if (Object.hasOwn(header, name)) throw invalid(`forbidden "${name}" header`);
  }
  // RFC 9068 §4: the resource server must check typ, so an ID token (typ JWT) is never an
  // access token even though both are signed by the same key.
  if (!isAccessTokenTyp(header.typ)) throw invalid('typ is not at+jwt');
  // Keys come from the local set only; a kid never triggers a fetch.
  const entry = typeof header.kid === 'string' ? keySet.verifying.get(header.kid) : undefined;
  if (!entry) throw invalid('unknown kid');
  if (header.alg !== entry.alg) throw invalid('alg does not match the key');
  return entry;
}

function toResult(payload: JWTPayload): VerifiedAccessToken {
  const { sub, jti, exp, sid, scope } = payload;
  if (typeof sub !== 'string' || sub === '') throw invalid('sub is not a string');
  if (typeof jti !== 'string' || jti === '') throw invalid('jti is not a string');
  if (typeof exp !== 'number') throw invalid('exp is not a number');
  if (sid !== undefined && typeof sid !== 'string') throw invalid('sid is not a string');
  if (scope !== undefined && typeof scope !== 'string') throw invalid('scope is not a string');
  const result: VerifiedAccessToken = {
    sub,
    jti,
    exp,
    scope: typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [],
    claims: payload,
    ...(typeof sid === 'string' ? { sid } : {}),
  };
  return deepFreeze(result);
}

/** SHA-256 of a token, base64url: the cache key (so the cache holds no usable token). */
const digestOf: (token: string) => string =
  typeof hash === 'function' ? (token) => hash('sha256', token, 'base64url') : (token) => createHash('sha256').update(token).digest('base64url');

/** The signature and registered claims (jose), then `iat` (which jose checks only against a maximum age). */
async function checkSignature(
  token: string,
  entry: ReturnType<typeof selectKey>,
  o: { issuer: string; audience: string; now: () => number; clockTolerance: number },
): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, entry.key, {
      algorithms: [entry.alg],
      issuer: o.issuer,
      audience: o.audience,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id'],
      currentDate: new Date(o.now()),
      clockTolerance: o.clockTolerance,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw fail('Access token expired', 'exp is in the past', err);
    // Claim names and jose codes are fixed strings, safe for logs; values are never included.
    const reason =
      err instanceof joseErrors.JWTClaimValidationFailed
        ? `${err.claim}: ${err.reason}`
        : err instanceof joseErrors.JOSEError
          ? err.code
          : 'verification error';
    throw invalid(reason, err);
  }
  // A token issued after now (beyond the leeway) is forged or minted by a broken clock, and
  // would otherwise outlive its nominal lifetime.
  if (typeof payload.iat !== 'number' || payload.iat > o.now() / 1000 + o.clockTolerance) throw invalid('iat: in the future');
  return payload;
}

/**
 * Creates the verifier of local access tokens (RFC 9068 §4, RFC 8725): the size is capped before
 * any work; `jwk`/`jku`/`x5u`/`x5c`/`crit` headers are refused; `typ` must be `at+jwt`; the key
 * comes from the local set by `kid` with its algorithm pinned; `iss`, `aud`, `exp`, `iat`, `sub`,
 * `jti`, `client_id` are required and checked against an injected clock (`iat` must not lie in the
 * future beyond the clock tolerance).
 *
 * Every failure is a `FedgateError` with code `TOKEN_INVALID` (status 401) and a message that
 * never includes the token; nothing else is thrown.
 */
export function createAccessTokenVerifier(opts: AccessTokenVerifierOptions): AccessTokenVerifier {
  const { keySet, issuer, audience, now } = opts;
  const maxTokenBytes = opts.maxTokenBytes ?? 8192;
  const clockTolerance = opts.clockTolerance ?? 5;
  const cacheSize = opts.cacheSize ?? 10_000;
  const expected = { issuer, audience, now, clockTolerance };
  // Bearer tokens are checked on every API request; a hit skips the signature check. Keys are
  // hashes so the cache holds no usable token, and an entry is dropped once the token expires.
  const cache = opts.cache === false ? undefined : new Map<string, VerifiedAccessToken>();

  // Eviction is oldest-first (insertion order): cheaper on the hot path than reordering on hits.
  function cached(digest: string): VerifiedAccessToken | undefined {
    const hit = cache?.get(digest);
    if (!hit) return undefined;
    if (now() >= hit.exp * 1000) {
      cache!.delete(digest);
      return undefined;
    }
    return hit;
  }

  function remember(digest: string, result: VerifiedAccessToken): void {
    if (!cache) return;
    while (cache.size >= cacheSize) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
    cache.set(digest, result);
  }

  const verify = async function verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    checkShape(token, maxTokenBytes);
    // A hit means these exact bytes passed every check below before and have not expired.
    const digest = cache ? digestOf(token) : '';
    const hit = cache ? cached(digest) : undefined;
    if (hit) return hit;

    const payload = await checkSignature(token, selectKey(token, keySet), expected);
    const result = toResult(payload);
    remember(digest, result);
    return result;
  };
  return Object.assign(verify, {
    peek(token: string): VerifiedAccessToken | undefined {
      if (!cache || typeof token !== 'string' || token.length > maxTokenBytes) return undefined;
      return cached(digestOf(token));
    },
  });
}
