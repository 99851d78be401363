import { consumePendingLogin } from './transactions.js';
import { FedgateError, toFedgateError } from '../errors.js';
import type { GatewayContext } from '../context.js';
import { noStore, queryOf, redirect, sendError, type Req, type Res } from '../http/respond.js';
import { establishLogin, reportLoginFailure } from './establish.js';
import { LoginRestartRequest, type Connector } from '../connector.js';
import { startLogin } from './login.js';

/** Bounds of a callback query: the response parameters (RFC 6749 §4.1.2, RFC 9207) are few and short. */
const maxParamLength = 4096;
const maxNameLength = 64;
const maxParams = 32;

/**
 * Refuses a malformed callback query before the pending login is touched or any token request is
 * made: a repeated parameter (whichever copy a library reads, an attacker chose), array or object
 * notation (`code[]=`), oversize names, values or counts, and a response with neither `code` nor
 * `error`. This is the client's fault, so 400 — never a 502 that blames the upstream.
 */
function checkCallbackParams(q: URLSearchParams): void {
  const seen = new Set<string>();
  let count = 0;
  const malformed = (detail: string) => new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response is malformed.', { detail });
  for (const [name, value] of q) {
    count += 1;
    if (count > maxParams) throw malformed('too many parameters');
    if (name.length > maxNameLength || /[[\]]/.test(name)) throw malformed('parameter name malformed or too long');
    if (value.length > maxParamLength) throw malformed(`parameter ${name} too long`);
    if (seen.has(name)) throw malformed(`parameter ${name} repeated`);
    seen.add(name);
  }
  if (!seen.has('state')) return;
  if (!seen.has('code') && !seen.has('error')) throw malformed('neither code nor error');
}

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
    checkCallbackParams(q);
    const state = q.get('state');
    if (!state) throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response is missing its state.', { detail: 'state missing' });
    const tx = await consumePendingLogin(ctx.transactions, req, res, state);
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
    await tx.commit();

    await establishLogin(ctx, req, connector, identity);
    redirect(res, tx.returnTo);
  } catch (caught) {
    let err = caught;
    if (err instanceof LoginRestartRequest && restartable) {
      // The connector asked for a new login in another flow (B2C password reset): same connector, same returnTo.
      try {
        ctx.logger.info({ event: 'login.restarted', connector: restartable.connector.id, restart: err.restart }, "Login restarted at the connector's request");
        await startLogin(ctx, req, res, restartable.connector, { returnTo: restartable.returnTo, restart: err.restart });
        return;
      } catch (restartErr) {
        err = restartErr;
      }
    }
    const e = toFedgateError(err);
    reportLoginFailure(ctx, req, connectorId ?? pathConnector, e);
    sendError(req, res, e, { retryUrl: `${ctx.config.basePath}/login` });
  }
}
