import { createHmac, timingSafeEqual } from 'node:crypto';
import { FedgateError, toFedgateError } from '../errors.js';
import { noStore, readForm, redirect, sendError, sendHtml, sendJson, wantsHtml, type Req, type Res, sendUnauthorized } from '../http/respond.js';
import { pageBase, pagesOf, renderView } from '../http/page.js';
import { crossSitePost } from '../http/same-origin.js';
import { readSessionAuth } from '../session/state.js';
import type { SessionHandle } from '../session/lifecycle.js';
import { listConsents, withdrawConsent, type ConsentEntry } from './grants.js';
import { clientName, sessionPrincipal, type BrokerRuntime } from './runtime.js';

/**
 * `{basePath}/consents`: a signed-in user lists the applications they allowed and withdraws a
 * consent. GET answers HTML to browsers and JSON otherwise; POST (same-site, with the form token
 * bound to the session) withdraws one.
 */

/** The form token: an HMAC of the local session id, so it is worthless outside this session. */
function formToken(rt: BrokerRuntime, sid: string): string {
  return createHmac('sha256', rt.ctx.config.session.secrets[0]!).update(`fedgate consents\u0000${sid}`).digest('base64url');
}

function localSid(req: Req): string | undefined {
  return readSessionAuth((req.session as SessionHandle | undefined)?.fedgate)?.sid;
}

function describe(entry: ConsentEntry): string[] {
  const out = [...entry.scopes];
  for (const [resource, scopes] of Object.entries(entry.resources)) for (const s of scopes) out.push(`${s} (${resource})`);
  return out;
}

/** GET {basePath}/consents */
export async function showConsents(rt: BrokerRuntime, req: Req, res: Res): Promise<void> {
  noStore(res);
  try {
    const principal = sessionPrincipal(req);
    const sid = localSid(req);
    const base = rt.ctx.config.basePath;
    if (!principal || !sid) {
      if (wantsHtml(req)) return redirect(res, `${base}/login?returnTo=${encodeURIComponent(`${base}/consents`)}`);
      sendUnauthorized(res);
      return;
    }
    const entries = await listConsents(rt, principal.sub);
    if (!wantsHtml(req)) {
      sendJson(res, 200, {
        consents: entries.map((e) => ({ client_id: e.clientId, client_name: clientName(rt, e.clientId), scopes: e.scopes, resources: e.resources })),
      });
      return;
    }
    const token = formToken(rt, sid);
    const kit = pagesOf(req);
    sendHtml(
      res,
      200,
      renderView(kit, 'consents', {
        ...pageBase(kit),
        applications: entries.map((e) => ({
          clientId: e.clientId,
          clientName: clientName(rt, e.clientId),
          allowed: describe(e),
          withdraw: { method: 'post', action: `${base}/consents`, fields: { client_id: e.clientId, form_token: token } },
        })),
      }),
    );
  } catch (err) {
    const e = toFedgateError(err);
    rt.ctx.logger.warn({ event: 'broker.consents_failed', code: e.code, detail: e.detail }, 'Consents page failed');
    sendError(req, res, e);
  }
}

/** POST {basePath}/consents — withdraws the consent given to `client_id`. */
export async function withdrawFromConsents(rt: BrokerRuntime, req: Req, res: Res): Promise<void> {
  noStore(res);
  try {
    const crossSite = crossSitePost(req, rt.ctx.config.baseUrl);
    if (crossSite) throw new FedgateError('FORM_TOKEN_INVALID', 'The form did not come from this site.', { detail: crossSite });
    const principal = sessionPrincipal(req);
    const sid = localSid(req);
    if (!principal || !sid) throw new FedgateError('UNAUTHORIZED', 'Sign in to manage the applications you allowed.');
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch {
      throw new FedgateError('FORM_TOKEN_INVALID', 'The form is not valid.', { detail: 'form too large' });
    }
    const given = form.getAll('form_token');
    const expected = Buffer.from(formToken(rt, sid));
    const ok = given.length === 1 && Buffer.byteLength(given[0]!) === expected.length && timingSafeEqual(Buffer.from(given[0]!), expected);
    if (!ok) throw new FedgateError('FORM_TOKEN_INVALID', 'The form expired or did not come from this site.', { detail: 'form token missing or wrong' });
    const clientId = form.getAll('client_id');
    if (clientId.length !== 1 || !rt.clients.has(clientId[0]!))
      throw new FedgateError('FORM_TOKEN_INVALID', 'The form is not valid.', { detail: 'unknown client_id' });
    await withdrawConsent(rt, principal.sub, clientId[0]!);
    redirect(res, `${rt.ctx.config.basePath}/consents`, 303);
  } catch (err) {
    const e = toFedgateError(err);
    rt.ctx.logger.warn({ event: 'broker.withdraw_failed', code: e.code, detail: e.detail }, 'Consent withdrawal failed');
    sendError(req, res, e);
  }
}
