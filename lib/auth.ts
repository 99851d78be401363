import type { ErrorCode } from './errors.js';

/**
 * `req.auth`, set on every request that passes the gateway middleware. `claims` are the mapped
 * local claims; `idToken`/`accessToken` are local JWTs. Upstream tokens never appear here unless
 * the connector sets `exposeUpstreamTokens`.
 */
export interface Auth {
  isAuthenticated: boolean;
  /** Local subject `<connector>|<upstream sub>`. */
  sub?: string;
  claims: Readonly<Record<string, unknown>>;
  connector?: string;
  idToken?: string;
  accessToken?: string;
  scope: readonly string[];
  via?: 'session' | 'bearer';
  /** Set when the auth state could not be determined (store down, bad bearer token). */
  error?: { code: ErrorCode; status: number };
  /** Upstream tokens, only when the connector opts in with `exposeUpstreamTokens`. */
  upstream?: { idToken?: string; accessToken?: string; expiresAt?: number };
}

export const anonymous = (error?: Auth['error']): Auth => ({
  isAuthenticated: false,
  claims: Object.freeze({}),
  scope: Object.freeze([]),
  ...(error ? { error } : {}),
});

declare global {
  // Express's own augmentation point (declaration merging), so `req.auth` is typed in apps.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      auth: Auth;
    }
  }
}
