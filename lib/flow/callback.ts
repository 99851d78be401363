import { randomToken, takeTransaction } from './transactions.js';
import { FedgateError, toFedgateError } from '../errors.js';
import type { GatewayContext } from '../context.js';
import { requestIdOf } from '../events.js';
import { noStore, queryOf, redirect, sendError, type Req, type Res } from '../http/respond.js';
import type { SessionAuth } from '../session/state.js';
import { establishSession } from '../session/lifecycle.js';
import { localIdentityOf, upstreamTokensOf } from '../session/identity.js';
import { LoginRestartRequest, type Connector } from '../connector.js';
import { startLogin } from './login.js';

function isAudience(v: unknown): v is string | string[] {
  return typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
}

/** Parameters a callback may carry at most once each (RFC 9207 `iss` included). */
const singleParams = ['state', 'code', 'error', 'error_description', 'error_uri', 'iss', 'session_state'];
const maxParamLength = 4096;

/**
 * GET {basePath}/callback/:connector. The transaction chooses the connector; a callback on
 * another connector's path is refused before any token request (mix-up defence).
 */
export async function handleCallback(ctx: GatewayContext, req: Req, res: Res, pathConnector: string): Promise<void> {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  let connectorId: string | undefined;
  /** Set once the transaction is known: where a connector-requested restart begins again. */
  let restartable: { connector: Connector; returnTo: string } | undefined;
  try {
    const q = queryOf(req);
    for (const name of singleParams) {
      const values = q.getAll(name);
      if (values.length > 1 || values.some((v) => v.length > maxParamLength)) {
        throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response is malformed.', { detail: `parameter ${name} repeated or too long` });
      }
    }
    const state = q.get('state');
    if (!state) throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response is missing its state.', { detail: 'state missing' });
    const tx = await takeTransaction(ctx.transactions, req, state);
    connectorId = tx.connector;
    if (tx.connector !== pathConnector) {
      throw new FedgateError('CALLBACK_CONNECTOR_MISMATCH', 'The sign-in response arrived for another provider than the one the sign-in started with.');
    }
    const connector = ctx.connectors.get(tx.connector);
    if (!connector) throw new FedgateError('CONNECTOR_UNKNOWN', 'No such sign-in provider.');

    const callbackUrl = new URL(ctx.redirectUri(connector.id));
    callbackUrl.search = q.toString();
    restartable = { connector, returnTo: tx.returnTo };
    const identity = await connector.completeLogin({ callbackUrl, state, data: tx.data });

    const { sub, claims, scope } = localIdentityOf(ctx, connector.id, identity);
    const now = ctx.now();
    const authTime = typeof identity.claims.auth_time === 'number' ? identity.claims.auth_time : Math.floor(now / 1000);
    const auth: SessionAuth = {
      v: 1,
      sid: randomToken(),
      sub,
      connector: connector.id,
      claims,
      scope,
      authTime,
      createdAt: now,
      lastSeen: now,
      rev: 0,
      upstream: {
        sub: identity.subject,
        ...(identity.sid ? { sid: identity.sid } : {}),
        ...upstreamTokensOf(identity, Math.floor(now / 1000)),
        ...(typeof identity.claims.iss === 'string' ? { iss: identity.claims.iss } : {}),
        ...(isAudience(identity.claims.aud) ? { aud: identity.claims.aud } : {}),
      },
    };
    await establishSession(ctx, req, auth);
    ctx.emit('login.succeeded', { connector: connector.id, sub }, req);
    redirect(res, tx.returnTo);
  } catch (caught) {
    let err = caught;
    if (err instanceof LoginRestartRequest && restartable) {
      // The connector asked for a new login in another flow (B2C password reset): same connector, same returnTo.
      try {
        ctx.logger.info({ event: 'login.restarted', connector: restartable.connector.id, restart: err.restart }, 'Login restarted at the connector\'s request');
        await startLogin(ctx, req, res, restartable.connector, { returnTo: restartable.returnTo, restart: err.restart });
        return;
      } catch (restartErr) {
        err = restartErr;
      }
    }
    const e = toFedgateError(err);
    ctx.emit('login.failed', { connector: connectorId ?? pathConnector, code: e.code }, req);
    if (e.detail) ctx.logger.debug({ event: 'login.failed.detail', requestId: requestIdOf(req), code: e.code, detail: e.detail }, 'Login failure detail');
    sendError(req, res, e, { retryUrl: `${ctx.config.basePath}/login` });
  }
}
