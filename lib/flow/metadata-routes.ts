import type { Auth } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { toFedgateError } from '../errors.js';
import { noStore, sendError, sendJson, type Req, type Res } from '../http/respond.js';

/** GET {basePath}/userinfo: the mapped claims of the current principal (session or bearer). */
export function handleUserinfo(_ctx: GatewayContext, req: Req, res: Res): void {
  noStore(res);
  const auth = req.auth as Auth;
  if (auth.error) {
    if (auth.error.code === 'TOKEN_INVALID') {
      sendJson(res, 401, { error: 'invalid_token', code: 'TOKEN_INVALID' }, { 'WWW-Authenticate': 'Bearer realm="fedgate", error="invalid_token"' });
    } else {
      sendJson(res, 503, { error: 'temporarily_unavailable', code: auth.error.code }, { 'Retry-After': '5' });
    }
    return;
  }
  if (!auth.isAuthenticated) {
    sendJson(res, 401, { error: 'unauthorized', code: 'UNAUTHORIZED' }, { 'WWW-Authenticate': 'Bearer realm="fedgate"' });
    return;
  }
  sendJson(res, 200, { ...auth.claims, sub: auth.sub });
}

/** GET {basePath}/jwks.json and /.well-known/openid-configuration: cacheable public metadata. */
export async function handleMetadata(ctx: GatewayContext, req: Req, res: Res, which: 'jwks' | 'discovery'): Promise<void> {
  try {
    const body = which === 'jwks' ? await ctx.tokens.jwks() : await ctx.tokens.discovery();
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.setHeader('Access-Control-Allow-Origin', '*');
    sendJson(res, 200, body, which === 'jwks' ? { 'Content-Type': 'application/jwk-set+json' } : {});
  } catch (err) {
    sendError(req, res, toFedgateError(err));
  }
}
