import { timingSafeEqual } from 'node:crypto';
import type { Interaction } from 'oidc-provider';
import { FedgateError, toFedgateError } from '../errors.js';
import { noStore, readForm, redirect, sendError, type Req, type Res } from '../http/respond.js';
import { randomToken } from '../flow/transactions.js';
import { pagesOf } from '../http/page.js';
import { crossSitePost } from '../http/same-origin.js';
import { readSessionAuth } from '../session/state.js';
import type { SessionHandle } from '../session/lifecycle.js';
import { renderConsentPage } from './consent-page.js';
import { clientName, sessionPrincipal, type BrokerRuntime } from './runtime.js';

/**
 * fedgate's own interactions for client applications, at `{basePath}/interaction/:uid`:
 * - login: the user's fedgate session is reused; without one the browser runs the normal
 *   connector login (chooser, home-realm discovery with the client's `login_hint`) and comes back;
 * - consent: trusted clients never get here (their grant is made by `loadExistingGrant`); others
 *   see the consent page, whose POST carries the interaction's one-time form token.
 */

const maxLoginHint = 256;

const invalid = (detail: string) =>
  new FedgateError('INTERACTION_INVALID', 'This sign-in step has expired or is not valid here; return to the application and start again.', { detail });
const badForm = (detail: string) =>
  new FedgateError('FORM_TOKEN_INVALID', 'The form expired or did not come from this site; return to the application and start again.', { detail });

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function recordOfLists(value: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) out[k] = stringList(v);
  return out;
}

async function details(rt: BrokerRuntime, req: Req, res: Res, uid: string): Promise<Interaction> {
  const provider = await rt.provider();
  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch (err) {
    // A store failure (SESSION_STORE_UNAVAILABLE, 503) is not the user's: it must not read "start again".
    if (err instanceof FedgateError) throw err;
    throw invalid(err instanceof Error ? err.message.slice(0, 120) : 'interaction lookup failed');
  }
  // The interaction cookie binds the step to this browser; the path must name the same one.
  if (interaction.uid !== uid) throw invalid('interaction cookie and path disagree');
  return interaction;
}

/** GET {basePath}/interaction/:uid */
export async function showInteraction(rt: BrokerRuntime, req: Req, res: Res, uid: string): Promise<void> {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  try {
    const interaction = await details(rt, req, res, uid);
    const clientId = String(interaction.params.client_id ?? '');
    if (interaction.prompt.name === 'login') return await login(rt, req, res, interaction);
    if (interaction.prompt.name !== 'consent') throw invalid(`unsupported prompt ${interaction.prompt.name}`);
    if (rt.clients.get(clientId)?.trusted) return await approve(rt, req, res, interaction);
    const formToken = randomToken();
    await rt.records.saveFormToken(uid, formToken);
    const missing = interaction.prompt.details;
    const principal = sessionPrincipal(req);
    const email = principal?.claims.email;
    const html = renderConsentPage(
      {
        clientName: clientName(rt, clientId),
        scopes: stringList(missing.missingOIDCScope),
        resourceScopes: recordOfLists(missing.missingResourceScopes),
        action: `${rt.ctx.config.basePath}/interaction/${encodeURIComponent(uid)}`,
        formToken,
        ...(typeof email === 'string' ? { signedInAs: email } : principal ? { signedInAs: principal.sub } : {}),
      },
      rt.table,
      pagesOf(req),
    );
    // The approval redirects on to the client: browsers check form-action against redirects too.
    const target = typeof interaction.params.redirect_uri === 'string' ? URL.parse(interaction.params.redirect_uri)?.origin : undefined;
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'${target ? ` ${target}` : ''}`,
    );
    res.end(html);
  } catch (err) {
    fail(rt, req, res, err);
  }
}

/** POST {basePath}/interaction/:uid — the consent decision. */
export async function submitInteraction(rt: BrokerRuntime, req: Req, res: Res, uid: string): Promise<void> {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  try {
    const crossSite = crossSitePost(req, rt.ctx.config.baseUrl);
    if (crossSite) throw badForm(crossSite);
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch {
      throw badForm('form too large');
    }
    const interaction = await details(rt, req, res, uid);
    if (interaction.prompt.name !== 'consent') throw invalid('no consent pending');
    const expected = await rt.records.takeFormToken(uid);
    const given = form.getAll('form_token');
    if (!expected || given.length !== 1 || !sameToken(given[0]!, expected)) throw badForm('form token missing or wrong');
    const decision = form.get('decision');
    if (decision === 'approve') return await approve(rt, req, res, interaction);
    if (decision !== 'deny') throw badForm('no decision');
    rt.ctx.logger.info({ event: 'broker.consent_denied', client: String(interaction.params.client_id ?? '') }, 'Consent denied');
    const provider = await rt.provider();
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The user denied the request.' },
      { mergeWithLastSubmission: false },
    );
  } catch (err) {
    fail(rt, req, res, err);
  }
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function login(rt: BrokerRuntime, req: Req, res: Res, interaction: Interaction): Promise<void> {
  const principal = sessionPrincipal(req);
  const auth = readSessionAuth((req.session as SessionHandle | undefined)?.fedgate);
  // prompt=login / max_age: only a session begun after this step started counts as fresh.
  const reasons = interaction.prompt.reasons;
  const needsFresh = reasons.includes('login_prompt') || reasons.includes('max_age');
  const fresh = !needsFresh || (auth !== undefined && auth.createdAt >= interaction.iat * 1000 - 1000);
  if (principal && auth && auth.sub === principal.sub && fresh) {
    await rt.records.saveAccount(principal.sub, principal.claims);
    const provider = await rt.provider();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: principal.sub, ts: auth.authTime, remember: true } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const base = rt.ctx.config.basePath;
  const back = `${base}/interaction/${encodeURIComponent(interaction.uid)}`;
  const hint = interaction.params.login_hint;
  const usableHint = typeof hint === 'string' && hint.length > 0 && hint.length <= maxLoginHint && !/[\u0000-\u001F\u007F]/.test(hint);
  redirect(res, `${base}/login?returnTo=${encodeURIComponent(back)}${usableHint ? `&login_hint=${encodeURIComponent(hint)}` : ''}`);
}

async function approve(rt: BrokerRuntime, req: Req, res: Res, interaction: Interaction): Promise<void> {
  const provider = await rt.provider();
  const accountId = interaction.session?.accountId;
  const clientId = String(interaction.params.client_id ?? '');
  if (!accountId || !rt.clients.has(clientId)) throw invalid('consent without a signed-in account');
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const missing = interaction.prompt.details;
  const scopes = stringList(missing.missingOIDCScope);
  if (scopes.length) grant.addOIDCScope(scopes);
  const claims = stringList(missing.missingOIDCClaims);
  if (claims.length) grant.addOIDCClaims(claims);
  for (const [indicator, list] of Object.entries(recordOfLists(missing.missingResourceScopes))) {
    if (list.length) grant.addResourceScope(indicator, list);
  }
  const grantId = await grant.save();
  await rt.records.rememberGrant(accountId, clientId, grantId);
  rt.ctx.logger.info({ event: 'broker.consent_granted', client: clientId }, 'Consent granted');
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function fail(rt: BrokerRuntime, req: Req, res: Res, err: unknown): void {
  const e = toFedgateError(err);
  rt.ctx.logger.warn({ event: 'broker.interaction_failed', code: e.code, detail: e.detail }, 'Broker interaction failed');
  if (!res.headersSent) sendError(req, res, e);
}
