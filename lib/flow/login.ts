import { FedgateError, toFedgateError } from '../errors.js';
import type { Connector } from '../connector.js';
import { connectorSettings } from '../connector-settings.js';
import type { GatewayContext } from '../context.js';
import { noStore, queryOf, redirect, sendError, sendHtml, sendJson, single, wantsHtml, type Req, type Res } from '../http/respond.js';
import { pageBase, pagesOf, renderView } from '../http/page.js';
import { reportLoginFailure } from './establish.js';
import { sanitizeReturnTo } from './return-to.js';
import { createPendingLogin, randomToken } from './transactions.js';

const maxLoginHint = 256;

/**
 * GET {basePath}/login[/:connector]. Only `returnTo` and `login_hint` are read from the client;
 * every protocol parameter (`redirect_uri`, `scope`, `state`, `nonce`, PKCE) is the gateway's own.
 */
export async function handleLogin(ctx: GatewayContext, req: Req, res: Res, connectorId: string | undefined): Promise<void> {
  try {
    const q = queryOf(req);
    const returnTo = sanitizeReturnTo(single(q, 'returnTo'));
    const loginHint = readLoginHint(single(q, 'login_hint'));
    // `prompt=login` is the only prompt a client may ask for: authenticate anew at the upstream.
    const reauthenticate = single(q, 'prompt') === 'login';
    let connector: Connector | undefined;
    if (connectorId !== undefined) {
      connector = ctx.connectors.get(connectorId);
      if (!connector) throw new FedgateError('CONNECTOR_UNKNOWN', 'No such sign-in provider.');
    } else {
      connector = chooseConnector(ctx, loginHint);
    }
    if (!connector) {
      renderChooser(ctx, req, res, returnTo, loginHint);
      return;
    }
    await startLogin(ctx, req, res, connector, { returnTo, ...(loginHint !== undefined ? { loginHint } : {}), ...(reauthenticate ? { reauthenticate } : {}) });
  } catch (err) {
    // Redis failures arrive as SESSION_STORE_UNAVAILABLE from the store layer; anything else is internal.
    const e = toFedgateError(err);
    reportLoginFailure(ctx, req, connectorId, e);
    sendError(req, res, e);
  }
}

/**
 * Begins an upstream login with `connector`: a new `state`, the connector's authorization URL, the
 * pending login kept in this browser (lib/flow/transactions.ts), then the redirect. Also used by the callback when a
 * connector asks for a restart (`LoginRestartRequest`).
 */
export async function startLogin(
  ctx: GatewayContext,
  req: Req,
  res: Res,
  connector: Connector,
  opts: { returnTo: string; loginHint?: string; restart?: string; reauthenticate?: boolean },
): Promise<void> {
  const state = randomToken();
  const begin = await connector.beginLogin({
    state,
    redirectUri: ctx.redirectUri(connector.id),
    ...(opts.loginHint !== undefined ? { loginHint: opts.loginHint } : {}),
    ...(opts.restart !== undefined ? { restart: opts.restart } : {}),
    ...(opts.reauthenticate ? { reauthenticate: true } : {}),
  });
  createPendingLogin(ctx.transactions, req, res, { connector: connector.id, data: begin.data, returnTo: opts.returnTo }, state);
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  ctx.emit('login.started', { connector: connector.id }, req);
  redirect(res, begin.url.href);
}

function readLoginHint(value: string | undefined | null): string | undefined {
  if (value === undefined) return undefined;
  if (value === null || value.length > maxLoginHint || /[\u0000-\u001F\u007F]/.test(value)) {
    throw new FedgateError('LOGIN_HINT_INVALID', 'The login hint is not valid.');
  }
  return value || undefined;
}

/** One connector: it. A login_hint whose e-mail domain a connector claims: that one. Else none. */
function chooseConnector(ctx: GatewayContext, loginHint: string | undefined): Connector | undefined {
  const all = [...ctx.connectors.values()];
  if (all.length === 1) return all[0];
  const domain = loginHint?.includes('@') ? loginHint.slice(loginHint.lastIndexOf('@') + 1).toLowerCase() : undefined;
  if (!domain) return undefined;
  const entry = ctx.config.connectors.find((c) => connectorSettings(c, ctx.config.baseUrl).domains.includes(domain));
  return entry && ctx.connectors.get(entry.id);
}

function renderChooser(ctx: GatewayContext, req: Req, res: Res, returnTo: string, loginHint: string | undefined): void {
  const base = ctx.config.basePath;
  const connectors = ctx.config.connectors.map((c) => ({
    id: c.id,
    name: connectorSettings(c, ctx.config.baseUrl).name,
    loginUrl: `${base}/login/${encodeURIComponent(c.id)}?returnTo=${encodeURIComponent(returnTo)}`,
  }));
  noStore(res);
  if (!wantsHtml(req)) {
    sendJson(res, 400, {
      error: 'connector_required',
      code: 'CONNECTOR_REQUIRED',
      message: `Choose a connector: GET ${base}/login/:connector`,
      connectors: connectors.map((c) => c.id),
    });
    return;
  }
  const formAction = `${base}/login`;
  if (ctx.renderChooser) {
    sendHtml(res, 200, ctx.renderChooser({ connectors, returnTo, formAction, ...(loginHint !== undefined ? { loginHint } : {}) }));
    return;
  }
  const kit = pagesOf(req);
  sendHtml(
    res,
    200,
    renderView(kit, 'chooser', {
      ...pageBase(kit),
      connectors,
      returnTo,
      form: { method: 'get', action: formAction, fields: { returnTo } },
      ...(loginHint !== undefined ? { loginHint } : {}),
    }),
  );
}
