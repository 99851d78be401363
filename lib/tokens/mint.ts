import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { JWTPayload } from 'jose';
import { FedgateError } from '../errors.js';
import type { KeySet } from './keys.js';

/**
 * Claims that identity data can never set: registered JWT claims (RFC 7519 §4.1), the OIDC
 * protocol claims (OpenID Connect Core §2, §3.1.3.6), RFC 9068 / RFC 8693 / RFC 7800 members.
 * A mapped upstream claim named `aud` or `scope` must not widen what a token grants.
 */
export const reservedClaims: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'auth_time',
  'sid',
  'typ',
  'client_id',
  'scope',
  'cnf',
  'nonce',
  'azp',
  'at_hash',
  'c_hash',
  's_hash',
  'act',
  'may_act',
]);

/**
 * Authorization attributes an access token may carry (RFC 9068 §2.2.3.1, from SCIM RFC 7643
 * §4.1.2). Personal data (email, name, ...) stays out of access tokens: APIs get it from userinfo.
 */
export const accessTokenAuthorizationClaims = ['roles', 'groups', 'entitlements'] as const;

export interface TokenMinterOptions {
  keySet: KeySet;
  /** `iss` of every local token. */
  issuer: string;
  /** `aud` of access tokens: the APIs that accept them. */
  audience: string;
  /** Seconds. */
  accessTokenTtl: number;
  /** Seconds. */
  idTokenTtl: number;
  /** Current time in epoch milliseconds (injected so tests can freeze it). */
  now: () => number;
  /** `jti` generator; default 128 random bits, base64url. */
  randomId?: () => string;
  /** The gateway's own client id: `aud` of ID tokens, `client_id` of access tokens. Default `fedgate`. */
  clientId?: string;
}

export interface MintIdTokenInput {
  sub: string;
  /** When the user authenticated, epoch seconds (OIDC Core §2 `auth_time`). */
  authTime: number;
  /** Session id (OIDC Back-Channel Logout §2.1 `sid`). */
  sid?: string;
  /** Mapped identity claims; reserved names are dropped. */
  claims?: Record<string, unknown>;
  /** Echoed from an authorization request (broker mode). */
  nonce?: string;
  /** `aud` override for broker-mode clients; default the minter's `clientId`. */
  clientId?: string;
}

export interface MintAccessTokenInput {
  sub: string;
  /** Epoch seconds. */
  authTime: number;
  /** Granted scopes; serialized space-separated (RFC 9068 §2.2.3, RFC 6749 §3.3). */
  scope: readonly string[];
  sid?: string;
  /** Mapped claims; only `roles`, `groups`, `entitlements` are copied. */
  claims?: Record<string, unknown>;
  /** `client_id` override for broker-mode clients; default the minter's `clientId`. */
  clientId?: string;
}

export interface MintedToken {
  token: string;
  payload: JWTPayload & { iss: string; sub: string; exp: number; iat: number };
  /** Expiry in epoch milliseconds, the unit of `now()`. */
  expiresAt: number;
}

export interface TokenMinter {
  /** Mints a local ID token (OpenID Connect Core §2), `typ: JWT`. Never accepted as an access token. */
  mintIdToken(input: MintIdTokenInput): Promise<MintedToken>;
  /** Mints a local access token per RFC 9068, `typ: at+jwt`. */
  mintAccessToken(input: MintAccessTokenInput): Promise<MintedToken>;
}

function defaultRandomId(): string {
  return randomBytes(16).toString('base64url');
}

/** Own, defined, non-reserved claims; `__proto__` is skipped so assignment cannot reach a prototype. */
function copyIdentityClaims(target: Record<string, unknown>, claims: Record<string, unknown> | undefined): void {
  if (!claims) return;
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined || name === '__proto__' || reservedClaims.has(name)) continue;
    target[name] = value;
  }
}

/**
 * Creates the minter of local tokens, signed with the first key of the key set. Protocol claims
 * are written after identity claims and identity claims never carry reserved names, so no
 * upstream value can change who a token is for, who issued it, or how long it lives.
 */
export function createTokenMinter(opts: TokenMinterOptions): TokenMinter {
  const { keySet, issuer, audience, accessTokenTtl, idTokenTtl, now } = opts;
  const randomId = opts.randomId ?? defaultRandomId;
  const ownClientId = opts.clientId ?? 'fedgate';
  const { kid, alg, key } = keySet.signing;

  async function sign(payload: MintedToken['payload'], typ: 'JWT' | 'at+jwt'): Promise<MintedToken> {
    const token = await new SignJWT(payload).setProtectedHeader({ alg, kid, typ }).sign(key);
    return { token, payload, expiresAt: payload.exp * 1000 };
  }

  function assertSubject(sub: unknown): asserts sub is string {
    if (typeof sub !== 'string' || sub.length === 0) throw new FedgateError('INTERNAL_ERROR', 'Cannot mint a token without a subject');
  }

  return {
    async mintIdToken(input) {
      assertSubject(input.sub);
      const iat = Math.floor(now() / 1000);
      const payload: Record<string, unknown> = {};
      copyIdentityClaims(payload, input.claims);
      Object.assign(payload, {
        iss: issuer,
        sub: input.sub,
        aud: input.clientId ?? ownClientId,
        exp: iat + idTokenTtl,
        iat,
        auth_time: input.authTime,
      });
      if (input.sid !== undefined) payload.sid = input.sid;
      if (input.nonce !== undefined) payload.nonce = input.nonce;
      return sign(payload as MintedToken['payload'], 'JWT');
    },

    async mintAccessToken(input) {
      assertSubject(input.sub);
      const iat = Math.floor(now() / 1000);
      const payload: Record<string, unknown> = {
        iss: issuer,
        sub: input.sub,
        aud: audience,
        exp: iat + accessTokenTtl,
        iat,
        jti: randomId(),
        client_id: input.clientId ?? ownClientId,
        auth_time: input.authTime,
      };
      const scope = [...new Set(input.scope)].join(' ');
      // RFC 6749 §3.3: a scope value has at least one token, so none granted means no claim.
      if (scope !== '') payload.scope = scope;
      if (input.sid !== undefined) payload.sid = input.sid;
      for (const name of accessTokenAuthorizationClaims) {
        const value = input.claims && Object.hasOwn(input.claims, name) ? input.claims[name] : undefined;
        if (value !== undefined && value !== null) payload[name] = value;
      }
      return sign(payload as MintedToken['payload'], 'at+jwt');
    },
  };
}
