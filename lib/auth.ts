import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { FedgateError, type ErrorCode } from './errors.js';

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

/**
 * `req.auth` of a signed-in request (what `requireAuth()` lets through): subject, connector and
 * channel are always set and no error is pending.
 */
export interface AuthenticatedAuth extends Auth {
  isAuthenticated: true;
  sub: string;
  connector: string;
  via: 'session' | 'bearer';
  error?: never;
}

/** Narrows an `Auth` to a signed-in one. */
export function isAuthenticated(auth: Auth | undefined): auth is AuthenticatedAuth {
  return (
    auth?.isAuthenticated === true && auth.error === undefined && typeof auth.sub === 'string' && typeof auth.connector === 'string' && auth.via !== undefined
  );
}

/**
 * The signed-in `req.auth` of a request, typed without casts; for handlers behind
 * `requireAuth()`. Throws `UNAUTHORIZED` (401) when the request is not signed in, which Express
 * hands to its error handler: a route that forgot `requireAuth()` fails closed.
 *
 * @example
 * app.get('/me', requireAuth(), (req, res) => {
 *   const { sub, connector, via } = authOf(req); // all strings, no `!`
 *   res.json({ sub, connector, via });
 * });
 */
export function authOf(req: { auth?: Auth }): AuthenticatedAuth {
  const auth = req.auth;
  if (!isAuthenticated(auth)) throw new FedgateError('UNAUTHORIZED', 'Sign in to continue.');
  return auth;
}

/** An Express request behind `requireAuth()`: `req.auth` is an {@link AuthenticatedAuth}. */
export type AuthenticatedRequest = Request & { auth: AuthenticatedAuth };

/**
 * Wraps a route handler so that its `req.auth` is typed as signed in (no optional `sub`,
 * `connector`, `via`). Mount it behind `requireAuth()`; should a request arrive unauthenticated
 * anyway, the handler is not called and Express's error handler gets `UNAUTHORIZED` (401).
 *
 * @example
 * app.get('/me', requireAuth(), withAuth((req, res) => {
 *   res.json({ sub: req.auth.sub, connector: req.auth.connector });
 * }));
 */
export function withAuth(handler: (req: AuthenticatedRequest, res: Response, next: NextFunction) => unknown): RequestHandler {
  return (req, res, next) => {
    const auth = req.auth;
    if (!isAuthenticated(auth)) {
      next(new FedgateError('UNAUTHORIZED', 'Sign in to continue.'));
      return undefined;
    }
    return handler(Object.assign(req, { auth }), res, next);
  };
}

export const anonymous = (error?: Auth['error']): Auth => ({
  isAuthenticated: false,
  claims: Object.freeze({}),
  scope: Object.freeze([]),
  ...(error ? { error } : {}),
});

declare global {
  // Express's own augmentation point (declaration merging), so `req.auth` is typed in apps.
  namespace Express {
    interface Request {
      auth: Auth;
    }
  }
}
