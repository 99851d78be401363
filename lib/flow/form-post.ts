import { createHash } from 'node:crypto';
import { acceptsFormPost, type Connector } from '../connector.js';
import type { GatewayContext } from '../context.js';
import { FedgateError, toFedgateError } from '../errors.js';
import { escapeHtml, noStore, queryOf, readForm, redirect, sendError, single, type Req, type Res } from '../http/respond.js';
import { isRecord } from '../values.js';
import { establishLogin, reportLoginFailure } from './establish.js';
import { sanitizeReturnTo } from './return-to.js';
import { consumePendingLogin, randomToken, type ConsumedLogin } from './transactions.js';

/** A POSTed callback (SAML responses with encrypted assertions and certificates) larger than this is refused. */
export const maxPostedCallbackBytes = 256 * 1024;
/** How long the one-time handle of a validated POST waits for the browser's same-site step. */
const handleTtlSeconds = 120;
const handlePattern = /^[A-Za-z0-9_-]{43}$/;

interface PostedRecord {
  connector: string;
  state?: string;
  returnTo?: string;
  data: Record<string, string>;
}

const keyOf = (handle: string) => `post:${createHash('sha256').update(handle).digest('base64url')}`;

/**
 * POST {basePath}/callback/:connector from a connector with the form-post capability (SAML ACS).
 * The POST is cross-site, so it carries no SameSite=Lax cookie: the connector validates what needs
 * no browser, the result waits under a one-time handle, and the answer is a small page that
 * navigates the same browser to GET {basePath}/callback/:connector?posted=<handle>, a same-site
 * navigation that carries the transaction cookie (see {@link handlePostedFinish}). The session
 * cookie keeps SameSite=Lax.
 */
export async function handleCallbackPost(ctx: GatewayContext, req: Req, res: Res, connector: Connector): Promise<void> {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  try {
    if (!acceptsFormPost(connector)) throw new FedgateError('CALLBACK_PARAMS_INVALID', 'This sign-in provider does not answer by form post.');
    let form: URLSearchParams;
    try {
      form = await readForm(req, maxPostedCallbackBytes);
    } catch {
      throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response is too large.', {
        status: 413,
        detail: `form body over ${maxPostedCallbackBytes} bytes`,
      });
    }
    const posted = await connector.acceptCallbackPost({ form, callbackUrl: ctx.redirectUri(connector.id) });
    const handle = randomToken();
    const record: PostedRecord = { connector: connector.id, ...posted };
    await ctx.kv.set(keyOf(handle), JSON.stringify(record), handleTtlSeconds);
    sendContinuePage(res, `${ctx.config.basePath}/callback/${encodeURIComponent(connector.id)}?posted=${handle}`);
  } catch (err) {
    failed(ctx, req, res, connector.id, toFedgateError(err));
  }
}

/**
 * GET {basePath}/callback/:connector?posted=<handle>: the browser-bound half of a form-post
 * callback. The handle is single use; a solicited response must match a pending login of this
 * browser (its `state`, checked with the transaction cookie), which the connector then compares
 * with what it validated (SAML `InResponseTo`).
 */
export async function handlePostedFinish(ctx: GatewayContext, req: Req, res: Res, pathConnector: string): Promise<void> {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  try {
    const handle = single(queryOf(req), 'posted');
    if (typeof handle !== 'string' || !handlePattern.test(handle))
      throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response is malformed.', { detail: 'posted handle malformed' });
    const record = parseRecord(await ctx.kv.take(keyOf(handle)));
    if (record.connector !== pathConnector)
      throw new FedgateError('CALLBACK_CONNECTOR_MISMATCH', 'The sign-in response arrived for another provider than the one the sign-in started with.');
    const connector = ctx.connectors.get(record.connector);
    if (!connector) throw new FedgateError('CONNECTOR_UNKNOWN', 'No such sign-in provider.');
    let returnTo: string;
    let data: Record<string, string> = {};
    let tx: ConsumedLogin | undefined;
    if (record.state !== undefined) {
      tx = await consumePendingLogin(ctx.transactions, req, res, record.state);
      if (tx.connector !== connector.id)
        throw new FedgateError('CALLBACK_CONNECTOR_MISMATCH', 'The sign-in response arrived for another provider than the one the sign-in started with.');
      returnTo = tx.returnTo;
      data = tx.data;
    } else {
      returnTo = sanitizeReturnTo(record.returnTo);
    }
    const identity = await connector.completeLogin({
      callbackUrl: new URL(ctx.redirectUri(connector.id)),
      state: record.state ?? '',
      data,
      posted: record.data,
    });
    await tx?.commit();
    await establishLogin(ctx, req, connector, identity);
    redirect(res, returnTo);
  } catch (err) {
    failed(ctx, req, res, pathConnector, toFedgateError(err));
  }
}

function parseRecord(raw: string | null): PostedRecord {
  const invalid = new FedgateError('CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.', {
    detail: 'posted handle unknown, expired or used',
  });
  if (!raw) throw invalid;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw invalid;
  }
  if (!isRecord(value) || typeof value.connector !== 'string' || !isRecord(value.data)) throw invalid;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(value.data)) if (typeof v === 'string') data[k] = v;
  return {
    connector: value.connector,
    data,
    ...(typeof value.state === 'string' ? { state: value.state } : {}),
    ...(typeof value.returnTo === 'string' ? { returnTo: value.returnTo } : {}),
  };
}

/**
 * The answer to the cross-site POST: a meta refresh (no script, so the strict CSP stays) to a
 * same-origin URL, with a link for browsers that do not follow it. No referrer leaks the handle.
 */
function sendContinuePage(res: Res, next: string): void {
  const url = escapeHtml(next);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.end(
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
      + `<meta http-equiv="refresh" content="0;url=${url}"><title>Signing in</title></head>`
      + `<body><p>Signing you in&hellip; <a href="${url}">Continue</a></p></body></html>`,
  );
}

function failed(ctx: GatewayContext, req: Req, res: Res, connectorId: string, e: FedgateError): void {
  reportLoginFailure(ctx, req, connectorId, e);
  // A POST is a browser navigation too (the IdP's auto-submitted form): sendError answers it with the HTML page.
  sendError(req, res, e, { retryUrl: `${ctx.config.basePath}/login` });
}
