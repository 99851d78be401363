import { anonymous } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { FedgateError, toFedgateError } from '../errors.js';
import { resolveAuth, resolveAuthFast } from '../guard/resolve.js';
import { gatewayInfo } from '../guard/require-auth.js';
import { errorNextKey } from '../http/page.js';
import { sendError, type Next, type Req, type Res } from '../http/respond.js';

/** The middleware function of the gateway: resolves `req.auth`, answers fedgate's routes, else `next()`. */
export function createMiddleware(
  ctx: GatewayContext,
  route: (req: Req, res: Res) => Promise<boolean>,
  isClosed: () => boolean,
  errorsToNext: boolean,
): (req: Req, res: Res, next: Next) => void {
  const info = ctx.gatewayInfo;
  return function fedgateMiddleware(req: Req, res: Res, next: Next): void {
    if (isClosed()) {
      (req as unknown as Record<symbol, unknown>)[gatewayInfo] = info;
      (req as { auth?: unknown }).auth = anonymous({ code: 'GATEWAY_CLOSED', status: 503 });
      next();
      return;
    }
    // Cache hits (session or bearer) on app routes are answered synchronously.
    // Fast-path Auth objects carry the gateway info themselves (see withGatewayInfo): one property
    // less to add to every request object on the hot path.
    const fast = resolveAuthFast(ctx, req);
    if (fast) {
      (req as { auth?: unknown }).auth = fast;
      next();
      return;
    }
    (req as unknown as Record<symbol, unknown>)[gatewayInfo] = info;
    if (errorsToNext) (req as unknown as Record<symbol, unknown>)[errorNextKey] = next;
    resolveAuth(ctx, req, res)
      .then((auth) => {
        (req as { auth?: unknown }).auth = auth;
        return route(req, res);
      })
      .then((handled) => {
        if (handled) return;
        // Past the gateway, the app's own next (requireAuth's) handles errors.
        if (errorsToNext) delete (req as unknown as Record<symbol, unknown>)[errorNextKey];
        next();
      })
      .catch((err: unknown) => {
        const e = toFedgateError(err);
        ctx.logger.error(
          { event: 'gateway.error', code: e.code, detail: e.detail, err: e.cause instanceof Error ? e.cause.message.slice(0, 200) : undefined },
          'Gateway failure',
        );
        if (!res.headersSent) sendError(req, res, e.code === 'INTERNAL_ERROR' ? new FedgateError('INTERNAL_ERROR', 'Internal error') : e);
      });
  };
}
