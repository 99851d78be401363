import type { Auth } from '../auth.js';
import { FedgateError } from '../errors.js';
import { sanitizeReturnTo } from '../flow/return-to.js';
import { sendDpopFailure } from './dpop.js';
import { pageBase, renderView, type PageKit } from '../http/page.js';
import { redirect, sendError, sendHtml, sendJson, wantsHtml, type Next, type Req, type Res, sendInvalidToken, sendUnauthorized, sendUnavailable } from '../http/respond.js';
import { defaultNoStore, isCrossSiteWrite } from '../http/hygiene.js';

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /** Local scope(s), all required, on the local access token. */
  scope?: string | readonly string[];
  /** Claim conditions: the claim equals the value, or (array claim) includes it. */
  claims?: Readonly<Record<string, string | number | boolean>>;
  /** A predicate, sync or async; false → 403, throwing → 503. */
  check?: (auth: Auth, req: Req) => boolean | Promise<boolean>;
  /**
   * Accept POST/PUT/PATCH/DELETE authenticated by the session cookie from another origin (refused
   * by default: 403 `CROSS_SITE_REQUEST`). Only for a route that must take cross-site form posts.
   */
  allowCrossSite?: boolean;
}

/** Set by the gateway middleware so the standalone `requireAuth` knows where login lives. */
export const gatewayInfo = Symbol.for('fedgate.gateway');
export interface GatewayInfo {
  basePath: string;
  /** The public origin (`baseUrl`): what a same-origin request's `Origin` header says. */
  origin: string;
  /** `Strict-Transport-Security` for fedgate's own answers; undefined on http or when turned off. */
  hsts?: string;
  /** Page settings and the app's views (403 page). */
  pages?: PageKit;
  /** Metrics hook, when metrics are on. */
  observe?: (outcome: 'allowed' | 'unauthenticated' | 'forbidden' | 'unavailable') => void;
}

const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Guards a route. Not signed in: browser navigation → 302 to login, anything else → 401 with
 * `WWW-Authenticate`. A failed check → 403. Any internal failure → 503 with `Retry-After`.
 * It never calls `next()` on an error path.
 */
export function requireAuth(options: RequireAuthOptions = {}) {
  const scopes = options.scope === undefined ? [] : typeof options.scope === 'string' ? [options.scope] : [...options.scope];
  for (const s of scopes) if (typeof s !== 'string' || !scopeToken.test(s)) throw new FedgateError('CONFIG_INVALID', 'requireAuth: scope must be scope tokens');
  const claimChecks = Object.entries(options.claims ?? {});
  const check = options.check;
  if (check !== undefined && typeof check !== 'function') throw new FedgateError('CONFIG_INVALID', 'requireAuth: check must be a function');
  const allowCrossSite = options.allowCrossSite ?? false;
  if (typeof allowCrossSite !== 'boolean') throw new FedgateError('CONFIG_INVALID', 'requireAuth: allowCrossSite must be a boolean');

  return function fedgateRequireAuth(req: Req, res: Res, next: Next): void {
    const auth = req.auth as Auth | undefined;
    const info = (auth as unknown as Record<symbol, GatewayInfo | undefined> | undefined)?.[gatewayInfo]
      ?? (req as unknown as Record<symbol, GatewayInfo | undefined>)[gatewayInfo];
    if (!auth || !info) {
      sendJson(res, 500, { error: 'gateway_not_mounted', code: 'GATEWAY_NOT_MOUNTED' });
      return;
    }
    const observe = info.observe;
    // Guarded answers depend on who asks: no shared cache may keep one (the app may set its own).
    defaultNoStore(res);
    if (info.hsts !== undefined) res.setHeader('Strict-Transport-Security', info.hsts);
    if (auth.error) {
      // DPoP failures (RFC 9449 §7.1) get their own challenge; see ./dpop.ts.
      if (sendDpopFailure(res, auth)) {
        observe?.('unauthenticated');
        return;
      }
      observe?.(auth.error.code === 'TOKEN_INVALID' ? 'unauthenticated' : 'unavailable');
      if (auth.error.code === 'TOKEN_INVALID') {
        sendInvalidToken(res);
        return;
      }
      unavailable(res, auth.error.code);
      return;
    }
    if (!auth.isAuthenticated) {
      observe?.('unauthenticated');
      if (wantsHtml(req)) {
        const back = sanitizeReturnTo(req.originalUrl ?? req.url);
        res.setHeader('Cache-Control', 'no-store');
        redirect(res, `${info.basePath}/login?returnTo=${encodeURIComponent(back)}`);
        return;
      }
      sendUnauthorized(res);
      return;
    }
    if (auth.via === 'session' && !allowCrossSite && isCrossSiteWrite(req, info.origin)) {
      // The cookie rode along on another site's request (CSRF); bearer requests carry no ambient credential.
      observe?.('forbidden');
      sendError(req, res, new FedgateError('CROSS_SITE_REQUEST', 'This request came from another site and was refused.'));
      return;
    }
    const missing = scopes.filter((s) => !auth.scope.includes(s));
    if (missing.length) {
      observe?.('forbidden');
      sendJson(res, 403, { error: 'insufficient_scope', code: 'INSUFFICIENT_SCOPE', scope: scopes.join(' ') }, {
        'WWW-Authenticate': `Bearer realm="fedgate", error="insufficient_scope", scope="${scopes.join(' ')}"`,
      });
      return;
    }
    for (const [name, expected] of claimChecks) {
      const actual = Object.hasOwn(auth.claims, name) ? auth.claims[name] : undefined;
      const ok = Array.isArray(actual) ? actual.includes(expected) : actual === expected;
      if (!ok) {
        observe?.('forbidden');
        forbidden(req, res, info, next);
        return;
      }
    }
    const allow = () => {
      observe?.('allowed');
      next();
    };
    const deny = () => {
      observe?.('forbidden');
      forbidden(req, res, info, next);
    };
    const fail = () => {
      observe?.('unavailable');
      unavailable(res, 'INTERNAL_ERROR');
    };
    if (!check) {
      allow();
      return;
    }
    let result: boolean | Promise<boolean>;
    try {
      result = check(auth, req);
    } catch {
      fail();
      return;
    }
    if (typeof result === 'boolean') {
      if (result === true) allow();
      else deny();
      return;
    }
    Promise.resolve(result).then((ok) => (ok === true ? allow() : deny()), fail);
  };
}

/**
 * Browsers get the 403 page (the app's `views.forbidden` when set) with a way to sign in with
 * another account: sign out, then sign in again for the same page. Everything else gets JSON.
 * With `errorHandler: 'next'` the coded error goes to Express's error handler.
 */
function forbidden(req: Req, res: Res, info: GatewayInfo, next: Next): void {
  if (info.pages?.errorsToNext) {
    next(new FedgateError('FORBIDDEN', 'You are signed in, but this page needs permissions your account does not have.'));
    return;
  }
  if (wantsHtml(req)) {
    const base = pageBase(info.pages);
    // prompt=login: the upstream asks who signs in instead of reusing its session for the same account.
    const login = `${info.basePath}/login?prompt=login&returnTo=${encodeURIComponent(sanitizeReturnTo(req.originalUrl ?? req.url))}`;
    const switchAccountUrl = `${info.basePath}/logout?returnTo=${encodeURIComponent(login)}`;
    sendHtml(res, 403, renderView(info.pages, 'forbidden', { ...base, basePath: info.basePath, code: 'FORBIDDEN', switchAccountUrl }));
    return;
  }
  sendJson(res, 403, { error: 'forbidden', code: 'FORBIDDEN' });
}

function unavailable(res: Res, code: string): void {
  sendUnavailable(res, code);
}
