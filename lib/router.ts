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

/**
 * Dispatches the auth routes under basePath without Express's router, so the same code runs on
 * Express 4 and 5 (whose path syntaxes differ). Returns false for any other path. Broker mode's
 * routes (`broker`, undefined when `op.enabled` is off) are tried first.
 */
export function createRouter(ctx: GatewayContext, broker: Broker | undefined) {
  const base = ctx.config.basePath;
  /** Computed on first use: connectors are all registered by then. */
  let landingPaths: Set<string> | undefined;
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
    const get = method === 'GET' || method === 'HEAD';
    const segments = rest.split('/').filter(Boolean);
    const param = (i: number) => {
      try {
        return decodeURIComponent(segments[i] ?? '');
      } catch {
        return '';
      }
    };

    if (broker && (await broker.dispatch(req, res, rest))) return true;
    if (rest === '/login' && get) return run(handleLogin(ctx, req, res, undefined));
    if (segments[0] === 'login' && segments.length === 2 && get) return run(handleLogin(ctx, req, res, param(1)));
    if (segments[0] === 'callback' && segments.length === 2 && get) {
      // `posted`: the same-site second half of a form-post callback (SAML ACS), see flow/form-post.
      return run(queryOf(req).has('posted') ? handlePostedFinish(ctx, req, res, param(1)) : handleCallback(ctx, req, res, param(1)));
    }
    if (segments[0] === 'callback' && segments.length === 2 && method === 'POST') {
      const connector = ctx.connectors.get(param(1));
      if (connector && acceptsFormPost(connector)) return run(handleCallbackPost(ctx, req, res, connector));
    }
    const endpoint = findEndpoint(ctx, rest);
    if (endpoint) {
      if ((endpoint.methods as readonly string[]).includes(method === 'HEAD' ? 'GET' : method))
        return run(handleConnectorEndpoint(ctx, req, res, endpoint.connector, rest));
      res.setHeader('Allow', endpoint.methods.join(', '));
      sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', 'This method is not allowed here.'));
      return true;
    }
    if (rest === '/logout' && (get || method === 'POST')) return run(handleLogout(ctx, req, res));
    if (segments[0] === 'backchannel-logout' && segments.length === 2 && method === 'POST') return run(handleBackchannelLogout(ctx, req, res, param(1)));
    if (rest === '/userinfo' && get) return run(Promise.resolve(handleUserinfo(ctx, req, res)));
    if (rest === '/jwks.json' && get) return run(handleMetadata(ctx, req, res, 'jwks'));
    if (rest === '/.well-known/openid-configuration' && get) return run(handleMetadata(ctx, req, res, 'discovery'));
    if (
      ['/login', '/logout', '/userinfo', '/jwks.json', '/.well-known/openid-configuration'].includes(rest)
      || segments[0] === 'callback'
      || segments[0] === 'login'
      || segments[0] === 'backchannel-logout'
    ) {
      res.setHeader('Allow', rest === '/logout' ? 'GET, HEAD, POST' : segments[0] === 'backchannel-logout' ? 'POST' : 'GET, HEAD');
      sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', 'This method is not allowed here.'));
      return true;
    }
    return false;
  };
}

async function run(p: Promise<void>): Promise<boolean> {
  await p;
  return true;
}
