import { providesEndpoints, type Connector, type EndpointProvider, type EndpointResponse } from '../connector.js';
import type { GatewayContext } from '../context.js';
import { FedgateError, toFedgateError } from '../errors.js';
import { requestIdOf } from '../events.js';
import { escapeHtml, noStore, page, queryOf, readForm, redirect, sendError, sendHtml, type Req, type Res } from '../http/respond.js';
import { destroyIndexed, indexKeys } from '../session/session-index.js';
import { maxPostedCallbackBytes } from './form-post.js';

/** The connector that publishes `path` (below basePath), if any; routed by capability, not by type. */
export function findEndpoint(
  ctx: GatewayContext,
  path: string,
): { connector: Connector & EndpointProvider; methods: ReadonlyArray<'GET' | 'POST'> } | undefined {
  for (const connector of ctx.connectors.values()) {
    if (!providesEndpoints(connector)) continue;
    const endpoint = connector.endpoints.find((e) => e.path === path);
    if (endpoint) return { connector, methods: endpoint.methods };
  }
  return undefined;
}

/**
 * Runs a connector endpoint (SAML SP metadata, single logout). Sessions the connector names in
 * `endSessions` are destroyed server-side first, by upstream subject or session, as back-channel
 * logout does: an IdP's logout request arrives cross-site and carries no session cookie.
 */
export async function handleConnectorEndpoint(ctx: GatewayContext, req: Req, res: Res, connector: Connector & EndpointProvider, path: string): Promise<void> {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  try {
    const method = req.method === 'POST' ? 'POST' : 'GET';
    const raw = req.originalUrl ?? req.url ?? '/';
    const q = raw.indexOf('?');
    let form: URLSearchParams | undefined;
    if (method === 'POST') {
      try {
        form = await readForm(req, maxPostedCallbackBytes);
      } catch {
        throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The request is too large.', { status: 413 });
      }
    }
    const out = await connector.handleEndpoint({ path, method, query: queryOf(req), rawQuery: q === -1 ? '' : raw.slice(q + 1), ...(form ? { form } : {}) });
    await endSessions(ctx, req, connector.id, out);
    if (out.kind === 'redirect') {
      redirect(res, out.location);
      return;
    }
    res.statusCode = out.status;
    res.setHeader('Content-Type', out.contentType);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end(out.body);
  } catch (err) {
    const e = toFedgateError(err);
    ctx.logger.warn(
      { event: 'endpoint.rejected', requestId: requestIdOf(req), connector: connector.id, code: e.code, detail: e.detail },
      'Connector endpoint request rejected',
    );
    if ((req.headers.accept ?? '').includes('text/html')) {
      // An IdP's redirect or auto-submitted form is a browser navigation, POST included: the HTML page.
      sendHtml(
        res,
        e.status,
        page('Sign-out problem', `<h1>Sign-out problem</h1><p>${escapeHtml(e.message)}</p><p>Error code: <code>${escapeHtml(e.code)}</code></p>`),
      );
      return;
    }
    sendError(req, res, e);
  }
}

async function endSessions(ctx: GatewayContext, req: Req, connectorId: string, out: EndpointResponse): Promise<void> {
  if (!out.endSessions?.length) return;
  let sessions = 0;
  for (const target of out.endSessions) {
    const key = 'upstreamSid' in target ? indexKeys.upstreamSid(connectorId, target.upstreamSid) : indexKeys.upstreamSub(connectorId, target.upstreamSub);
    sessions += await destroyIndexed(ctx, key);
  }
  ctx.emit('backchannel.logout', { connector: connectorId, sessions }, req);
}
