import type { Auth } from '../auth.js';
import { FedgateError, invalidArgument } from '../errors.js';
import { sanitizeReturnTo } from '../flow/return-to.js';
import { sendDpopFailure } from './dpop.js';
import { pageBase, renderView, type PageKit } from '../http/page.js';
import {
  errorBody,
  redirect,
  sendError,
  sendHtml,
  sendJson,
  wantsHtml,
  type Next,
  type Req,
  type Res,
  sendInvalidToken,
  sendUnauthorized,
  sendUnavailable,
} from '../http/respond.js';
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
const knownOptions = new Set(['scope', 'claims', 'check', 'allowCrossSite']);

/** `requireAuth`'s options, checked once when the route is declared. */
interface Rules {
  scopes: readonly string[];
  claimChecks: ReadonlyArray<readonly [string, string | number | boolean]>;
  check?: RequireAuthOptions['check'];
  allowCrossSite: boolean;
}

type Observe = GatewayInfo['observe'];

/**
 * Guards a route. Not signed in: browser navigation → 302 to login, anything else → 401 with
 * `WWW-Authenticate`. A failed check → 403. Any internal failure → 503 with `Retry-After`.
 * It never calls `next()` on an error path.
 *
 * @throws TypeError with `code: 'INVALID_ARGUMENT'` when an option is unknown or of the wrong type
 *   (a misspelt option would otherwise leave the route less protected than it reads).
 */
export function requireAuth(options: RequireAuthOptions = {}) {
  const rules = readOptions(options);

  return function fedgateRequireAuth(req: Req, res: Res, next: Next): void {
    const auth = req.auth as Auth | undefined;
    const info =
      (auth as unknown as Record<symbol, GatewayInfo | undefined> | undefined)?.[gatewayInfo]
      ?? (req as unknown as Record<symbol, GatewayInfo | undefined>)[gatewayInfo];
    if (!auth || !info) {
      sendJson(res, 500, errorBody('GATEWAY_NOT_MOUNTED', 'The gateway middleware does not run before this route.'));
      return;
    }
    // Guarded answers depend on who asks: no shared cache may keep one (the app may set its own).
    defaultNoStore(res);
    if (info.hsts !== undefined) res.setHeader('Strict-Transport-Security', info.hsts);
    if (refusedAsUnauthenticated(req, res, auth, info)) return;
    if (refusedByRules(req, res, auth, info, rules, next)) return;
    runCheck(req, res, auth, info, rules.check, next);
  };
}

/** Validates the options up front: a wrong one throws at route declaration, not per request. */
function readOptions(options: unknown): Rules {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidArgument('requireAuth: options must be an object');
  const unknown = Object.entries(options)
    .filter(([k, v]) => !knownOptions.has(k) && v !== undefined)
    .map(([k]) => k);
  if (unknown.length) throw invalidArgument(`requireAuth: unknown option ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')}`);
  const { scope, claims, check, allowCrossSite = false } = options as RequireAuthOptions;
  const scopes: unknown[] = scope === undefined ? [] : typeof scope === 'string' ? [scope] : Array.isArray(scope) ? [...(scope as unknown[])] : [scope];
  if (!scopes.every((s): s is string => typeof s === 'string' && scopeToken.test(s)))
    throw invalidArgument('requireAuth: scope must be a scope token or an array of them');
  if (claims !== undefined && (typeof claims !== 'object' || claims === null || Array.isArray(claims)))
    throw invalidArgument('requireAuth: claims must be an object');
  const claimChecks = Object.entries(claims ?? {});
  if (!claimChecks.every(([, v]) => ['string', 'number', 'boolean'].includes(typeof v)))
    throw invalidArgument('requireAuth: each claims value must be a string, number or boolean');
  if (check !== undefined && typeof check !== 'function') throw invalidArgument('requireAuth: check must be a function');
  if (typeof allowCrossSite !== 'boolean') throw invalidArgument('requireAuth: allowCrossSite must be a boolean');
  return { scopes: scopes as string[], claimChecks, ...(check !== undefined ? { check } : {}), allowCrossSite };
}

/** Answers a request whose auth state is unknown (503), invalid (401) or absent (login / 401). */
function refusedAsUnauthenticated(req: Req, res: Res, auth: Auth, info: GatewayInfo): boolean {
  const observe = info.observe;
  if (auth.error) {
    // DPoP failures (RFC 9449 §7.1) get their own challenge; see ./dpop.ts.
    if (sendDpopFailure(res, auth)) {
      observe?.('unauthenticated');
      return true;
    }
    const invalidToken = auth.error.code === 'TOKEN_INVALID';
    observe?.(invalidToken ? 'unauthenticated' : 'unavailable');
    if (invalidToken) sendInvalidToken(res);
    else sendUnavailable(res, auth.error.code);
    return true;
  }
  if (auth.isAuthenticated) return false;
  observe?.('unauthenticated');
  if (wantsHtml(req)) {
    const back = sanitizeReturnTo(req.originalUrl ?? req.url);
    res.setHeader('Cache-Control', 'no-store');
    redirect(res, `${info.basePath}/login?returnTo=${encodeURIComponent(back)}`);
  } else {
    sendUnauthorized(res);
  }
  return true;
}

/** Answers a signed-in request the route refuses: cross-site write (CSRF), missing scope, claims. */
function refusedByRules(req: Req, res: Res, auth: Auth, info: GatewayInfo, rules: Rules, next: Next): boolean {
  const observe = info.observe;
  if (auth.via === 'session' && !rules.allowCrossSite && isCrossSiteWrite(req, info.origin)) {
    // The cookie rode along on another site's request (CSRF); bearer requests carry no ambient credential.
    observe?.('forbidden');
    sendError(req, res, new FedgateError('CROSS_SITE_REQUEST', 'This request came from another site and was refused.'));
    return true;
  }
  if (rules.scopes.some((s) => !auth.scope.includes(s))) {
    observe?.('forbidden');
    const scope = rules.scopes.join(' ');
    sendJson(res, 403, errorBody('INSUFFICIENT_SCOPE', 'The access token lacks a scope this route needs.', { error: 'insufficient_scope', scope }), {
      'WWW-Authenticate': `Bearer realm="fedgate", error="insufficient_scope", scope="${scope}"`,
    });
    return true;
  }
  for (const [name, expected] of rules.claimChecks) {
    const actual = Object.hasOwn(auth.claims, name) ? auth.claims[name] : undefined;
    const ok = Array.isArray(actual) ? actual.includes(expected) : actual === expected;
    if (!ok) {
      observe?.('forbidden');
      forbidden(req, res, info, next);
      return true;
    }
  }
  return false;
}

/** Runs the app's predicate, sync or async: true → next(), false → 403, throwing → 503. */
function runCheck(req: Req, res: Res, auth: Auth, info: GatewayInfo, check: Rules['check'], next: Next): void {
  const observe: Observe = info.observe;
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
    sendUnavailable(res, 'INTERNAL_ERROR');
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
}

const forbiddenMessage = 'You are signed in, but this page needs permissions your account does not have.';

/**
 * Browsers get the 403 page (the app's `views.forbidden` when set) with a way to sign in with
 * another account: sign out, then sign in again for the same page. Everything else gets JSON.
 * With `errorHandler: 'next'` the coded error goes to Express's error handler.
 */
function forbidden(req: Req, res: Res, info: GatewayInfo, next: Next): void {
  if (info.pages?.errorsToNext) {
    next(new FedgateError('FORBIDDEN', forbiddenMessage));
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
  sendJson(res, 403, errorBody('FORBIDDEN', forbiddenMessage));
}
