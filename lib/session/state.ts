import { isRecord } from '../values.js';

/**
 * What fedgate keeps in a session (`req.session.fedgate`), server-side in Redis.
 * Upstream tokens live here and never reach the browser.
 */
export interface SessionAuth {
  v: 1;
  /** Local session id (random), the `sid` of local tokens. Not the cookie's session id. */
  sid: string;
  /** Local subject: `<connector id>|<upstream subject>`. */
  sub: string;
  connector: string;
  /** Mapped (local) claims, including `sub`. */
  claims: Record<string, unknown>;
  /** Local scopes computed from `tokens.scopes` rules. */
  scope: string[];
  /** Epoch seconds of the upstream authentication. */
  authTime: number;
  /** Epoch ms; the absolute timeout counts from here and survives refreshes. */
  createdAt: number;
  /** Epoch ms of the last request; the idle timeout counts from here. */
  lastSeen: number;
  /** Bumped whenever claims change (refresh), so cached local tokens are re-minted. */
  rev: number;
  upstream: {
    sub: string;
    sid?: string;
    idToken?: string;
    accessToken?: string;
    refreshToken?: string;
    /** Epoch seconds. */
    expiresAt?: number;
    /** Epoch seconds when these tokens were obtained (sizes the refresh margin). */
    obtainedAt?: number;
    /** `iss` and `aud` of the original ID token, compared on refresh. */
    iss?: string;
    aud?: string | string[];
    /**
     * Upstream claims of the last login or refresh (ID token overlaid by userinfo), handed back to
     * the connector at refresh: a refresh response need not carry an ID token (OIDC Core §12.2),
     * and then the identity and claims carry over. Absent in sessions of older versions.
     */
    claims?: Record<string, unknown>;
    /** The connector's `logoutData` (e.g. SAML NameID and SessionIndex for its LogoutRequest). */
    logoutData?: Record<string, string>;
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Narrows stored data; anything corrupted or foreign counts as no session. */
export function readSessionAuth(value: unknown): SessionAuth | undefined {
  if (!isRecord(value) || value.v !== 1) return undefined;
  const { sid, sub, connector, claims, scope, authTime, createdAt, lastSeen, rev, upstream } = value;
  if (!isString(sid) || !isString(sub) || !isString(connector) || !isRecord(claims)) return undefined;
  if (!Array.isArray(scope) || !scope.every(isString)) return undefined;
  if (!isNumber(authTime) || !isNumber(createdAt) || !isNumber(lastSeen) || !isNumber(rev)) return undefined;
  if (!isRecord(upstream) || !isString(upstream.sub)) return undefined;
  return value as unknown as SessionAuth;
}

export interface SessionTimeouts {
  idleTimeout: number;
  absoluteTimeout: number;
}

export type ExpiryReason = 'idle' | 'absolute';

/** Which timeout, if any, has ended the session at `now` (ms). */
export function sessionExpiry(auth: SessionAuth, t: SessionTimeouts, now: number): ExpiryReason | undefined {
  if (now >= auth.createdAt + t.absoluteTimeout * 1000) return 'absolute';
  if (now >= auth.lastSeen + t.idleTimeout * 1000) return 'idle';
  return undefined;
}

/**
 * `lastSeen` is written back only when it has aged by this much, so that most requests cost one
 * Redis read and no write; the idle timeout is therefore exact to within this granularity.
 */
export function touchGranularityMs(t: SessionTimeouts): number {
  return Math.min(60_000, Math.max(100, t.idleTimeout * 50));
}

/** Redis TTL for a session: until the earlier of idle and absolute expiry, plus a small margin. */
export function sessionTtlSeconds(auth: SessionAuth | undefined, t: SessionTimeouts & { transactionTtl: number }, now: number): number {
  if (!auth) return t.transactionTtl;
  const absoluteLeft = Math.ceil((auth.createdAt + t.absoluteTimeout * 1000 - now) / 1000);
  const idle = t.idleTimeout + Math.ceil(touchGranularityMs(t) / 1000);
  return Math.max(1, Math.min(absoluteLeft, idle));
}
