import type { GatewayContext } from './context.js';
import { handleLogin } from './flow/login.js';
import { handleCallback } from './flow/callback.js';
import { handleCallbackPost, handlePostedFinish } from './flow/form-post.js';
import { findEndpoint, handleConnectorEndpoint } from './flow/endpoints.js';
import { acceptsFormPost } from './connector.js';
import { handleLogout, handlePostLogoutReturn, postLogoutLandingPaths } from './flow/logout.js';
import { handleBackchannelLogout } from './flow/backchannel.js';
import { handleMetadata, handleUserinfo } from './flow/metadata-routes.js';
import { errorBody, queryOf, sendJson, type Req, type Res } from './http/respond.js';
import type { Broker } from './broker/index.js';

/** One request to a path under basePath, split up once for the dispatchers below. */
interface RouteRequest {
  ctx: GatewayContext;
  req: Req;
  res: Res;
  /** The path after basePath (`/login/github`). */
  rest: string;
  method: string;
  /** GET or HEAD. */
  get: boolean;
  segments: string[];
}

type Dispatch = (r: RouteRequest) => Promise<boolean> | boolean;

/**
 * Dispatches the auth routes under basePath without Express's router, so the same code runs on
 * Express 4 and 5 (whose path syntaxes differ). Returns false for any other path. Broker mode's
 * routes (`broker`, undefined when `op.enabled` is off) are tried first.
 */
export function createRouter(ctx: GatewayContext, broker: Broker | undefined) {
  const base = ctx.config.basePath;
  /** Computed on first use: connectors are all registered by then. */
  let landingPaths: Set<string> | undefined;
  // In this order: the first dispatcher that answers wins.
  const dispatchers: Dispatch[] = [
    ...(broker ? [(r: RouteRequest) => broker.dispatch(r.req, r.res, r.rest)] : []),
    dispatchLoginRoutes,
    dispatchConnectorEndpoint,
    dispatchGatewayRoutes,
    rejectOtherMethods,
  ];
  return async (req: Req, res: Res): Promise<boolean> => {
    const raw = req.originalUrl ?? req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    if (path !== base && !path.startsWith(`${base}/`)) {
      landingPaths ??= postLogoutLandingPaths(ctx);
      return landingPaths.size > 0 && handlePostLogoutReturn(ctx, req, res, landingPaths, path);
    }
    // Every answer of the auth routes is fedgate's own: HSTS on an https origin (RFC 6797).
    if (ctx.gatewayInfo.hsts !== undefined) res.setHeader('Strict-Transport-Security', ctx.gatewayInfo.hsts);
    const rest = path.slice(base.length);
    const method = req.method ?? 'GET';
    const route: RouteRequest = { ctx, req, res, rest, method, get: method === 'GET' || method === 'HEAD', segments: rest.split('/').filter(Boolean) };
    for (const dispatch of dispatchers) if (await dispatch(route)) return true;
    return false;
  };
}

/** A decoded path segment; one that does not decode is empty (no connector has that id). */
function param(r: RouteRequest, i: number): string {
  try {
    return decodeURIComponent(r.segments[i] ?? '');
  } catch {
    return '';
  }
}

/** `/login`, `/login/:connector`, `/callback/:connector` (GET, and POST for form-post connectors). */
function dispatchLoginRoutes(r: RouteRequest): Promise<boolean> | false {
  const { ctx, req, res, segments } = r;
  if (r.rest === '/login' && r.get) return run(handleLogin(ctx, req, res, undefined));
  if (segments[0] === 'login' && segments.length === 2 && r.get) return run(handleLogin(ctx, req, res, param(r, 1)));
  if (segments[0] === 'callback' && segments.length === 2 && r.get) {
    // `posted`: the same-site second half of a form-post callback (SAML ACS), see flow/form-post.
    return run(queryOf(req).has('posted') ? handlePostedFinish(ctx, req, res, param(r, 1)) : handleCallback(ctx, req, res, param(r, 1)));
  }
  if (segments[0] === 'callback' && segments.length === 2 && r.method === 'POST') {
    const connector = ctx.connectors.get(param(r, 1));
    if (connector && acceptsFormPost(connector)) return run(handleCallbackPost(ctx, req, res, connector));
  }
  return false;
}

/** A path a connector serves itself (SAML metadata, single logout), with its own methods. */
function dispatchConnectorEndpoint(r: RouteRequest): Promise<boolean> | boolean {
  const endpoint = findEndpoint(r.ctx, r.rest);
  if (!endpoint) return false;
  if ((endpoint.methods as readonly string[]).includes(r.method === 'HEAD' ? 'GET' : r.method))
    return run(handleConnectorEndpoint(r.ctx, r.req, r.res, endpoint.connector, r.rest));
  return methodNotAllowed(r.res, endpoint.methods.join(', '));
}

/** Logout, back-channel logout, userinfo and the gateway's OpenID metadata. */
function dispatchGatewayRoutes(r: RouteRequest): Promise<boolean> | false {
  const { ctx, req, res, rest, get } = r;
  if (rest === '/logout' && (get || r.method === 'POST')) return run(handleLogout(ctx, req, res));
  if (r.segments[0] === 'backchannel-logout' && r.segments.length === 2 && r.method === 'POST') return run(handleBackchannelLogout(ctx, req, res, param(r, 1)));
  if (rest === '/userinfo' && get) return run(Promise.resolve(handleUserinfo(ctx, req, res)));
  if (rest === '/jwks.json' && get) return run(handleMetadata(ctx, req, res, 'jwks'));
  if (rest === '/.well-known/openid-configuration' && get) return run(handleMetadata(ctx, req, res, 'discovery'));
  return false;
}

/** A known route asked with a method it does not take: 405 with the methods it does. */
function rejectOtherMethods(r: RouteRequest): boolean {
  const { rest, segments } = r;
  if (
    ['/login', '/logout', '/userinfo', '/jwks.json', '/.well-known/openid-configuration'].includes(rest)
    || segments[0] === 'callback'
    || segments[0] === 'login'
    || segments[0] === 'backchannel-logout'
  ) {
    return methodNotAllowed(r.res, rest === '/logout' ? 'GET, HEAD, POST' : segments[0] === 'backchannel-logout' ? 'POST' : 'GET, HEAD');
  }
  return false;
}

function methodNotAllowed(res: Res, allow: string): true {
  res.setHeader('Allow', allow);
  sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', 'This method is not allowed here.'));
  return true;
}

async function run(p: Promise<void>): Promise<boolean> {
  await p;
  return true;
}
