import { createHash } from 'node:crypto';
import { verifiesLogoutTokens } from '../connector.js';
import type { GatewayContext } from '../context.js';
import { FedgateError, toFedgateError } from '../errors.js';
import { errorBody, noStore, readForm, sendJson, type Req, type Res } from '../http/respond.js';
import { destroyIndexed, indexKeys } from '../session/session-index.js';
import { requestIdOf } from '../events.js';

/** Remember seen `jti`s this long (the token's accepted age is 5 minutes plus skew). */
const jtiMemorySeconds = 900;

/**
 * POST {basePath}/backchannel-logout/:connector — OIDC Back-Channel Logout 1.0 receiver.
 * A valid `logout_token` destroys every session of that upstream `sid` (or, without `sid`, of that
 * `sub` at that connector). Invalid tokens get 400 and change nothing.
 */
export async function handleBackchannelLogout(ctx: GatewayContext, req: Req, res: Res, connectorId: string): Promise<void> {
  noStore(res);
  try {
    const connector = ctx.connectors.get(connectorId);
    if (!connector) throw new FedgateError('CONNECTOR_UNKNOWN', 'No such connector.');
    if (!verifiesLogoutTokens(connector)) throw new FedgateError('LOGOUT_TOKEN_INVALID', 'This connector does not support back-channel logout.');
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch {
      throw new FedgateError('LOGOUT_TOKEN_INVALID', 'The logout request is too large.');
    }
    const tokens = form.getAll('logout_token');
    if (tokens.length !== 1) throw new FedgateError('LOGOUT_TOKEN_INVALID', 'The logout request needs exactly one logout_token.');
    const claims = await connector.verifyLogoutToken(tokens[0]!);
    const jtiKey = `bcl:${connectorId}:${createHash('sha256').update(claims.jti).digest('base64url')}`;
    if (!(await ctx.kv.setIfAbsent(jtiKey, '1', jtiMemorySeconds))) {
      throw new FedgateError('LOGOUT_TOKEN_INVALID', 'The logout token is invalid.', { detail: 'jti replayed' });
    }
    const destroyed = claims.sid
      ? await destroyIndexed(ctx, indexKeys.upstreamSid(connectorId, claims.sid))
      : await destroyIndexed(ctx, indexKeys.upstreamSub(connectorId, claims.sub!));
    ctx.emit('backchannel.logout', { connector: connectorId, sessions: destroyed }, req);
    res.statusCode = 200;
    res.end();
  } catch (err) {
    const e = toFedgateError(err);
    ctx.logger.warn(
      { event: 'backchannel.rejected', requestId: requestIdOf(req), connector: connectorId, code: e.code, detail: e.detail },
      'Back-channel logout rejected',
    );
    // OIDC Back-Channel Logout §2.8: 400 for an invalid request; 5xx lets the OP retry later.
    const status = e.status >= 500 ? 503 : e.code === 'CONNECTOR_UNKNOWN' ? 404 : 400;
    sendJson(
      res,
      status,
      errorBody(e.code, e.message, { error: status === 400 ? 'invalid_request' : 'temporarily_unavailable' }),
      status === 503 ? { 'Retry-After': '5' } : {},
    );
  }
}
