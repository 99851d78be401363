import type { Auth } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { toFedgateError } from '../errors.js';
import { sendDpopFailure } from '../guard/dpop.js';
import { noStore, sendError, sendJson, type Req, type Res, sendInvalidToken, sendUnauthorized, sendUnavailable } from '../http/respond.js';

/** GET {basePath}/userinfo: the mapped claims of the current principal (session or bearer). */
export function handleUserinfo(_ctx: GatewayContext, req: Req, res: Res): void {
  noStore(res);
  const auth = req.auth as Auth;
  if (auth.error) {
    if (sendDpopFailure(res, auth)) return;
    if (auth.error.code === 'TOKEN_INVALID') {
      sendInvalidToken(res);
    } else {
      sendUnavailable(res, auth.error.code);
    }
    return;
  }
  if (!auth.isAuthenticated) {
    sendUnauthorized(res);
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
