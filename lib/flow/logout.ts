import type { Auth } from '../auth.js';
import { logsOutUpstream, type UpstreamLogout } from '../connector.js';
import { settingsOf } from '../connector-settings.js';
import type { GatewayContext } from '../context.js';
import { FedgateError, toFedgateError } from '../errors.js';
import { noStore, queryOf, readForm, redirect, sendError, sendHtml, setCookie, single, type Req, type Res } from '../http/respond.js';
import { readSessionAuth, type SessionAuth } from '../session/state.js';
import { destroySession, type SessionHandle } from '../session/lifecycle.js';
import { pageBase, pagesOf, renderView } from '../http/page.js';
import { crossSitePost } from '../http/same-origin.js';
import { sanitizeReturnTo } from './return-to.js';
import { randomToken } from './transactions.js';

/**
 * GET|POST {basePath}/logout. A cross-site request cannot log a user out: a POST must be
 * same-origin (`crossSitePost`) and a cross-site GET gets a confirmation form instead.
 * The session is destroyed in Redis and the cookie cleared, then the browser goes to `returnTo`
 * or, when the connector asks for it, to the upstream's logout.
 */
export async function handleLogout(ctx: GatewayContext, req: Req, res: Res): Promise<void> {
  noStore(res);
  res.setHeader('Referrer-Policy', 'no-referrer');
  try {
    const q = queryOf(req);
    let returnToRaw = single(q, 'returnTo');
    if (req.method === 'POST') {
      const crossSite = crossSitePost(req, ctx.config.baseUrl);
      if (crossSite) throw new FedgateError('LOGOUT_CROSS_SITE', 'Sign-out must be requested from this site.', { detail: crossSite });
      const form = await readForm(req).catch(() => new URLSearchParams());
      returnToRaw ??= single(form, 'returnTo');
    } else if (req.headers['sec-fetch-site'] === 'cross-site' || req.headers['sec-fetch-site'] === 'same-site') {
      const action = `${ctx.config.basePath}/logout`;
      const kit = pagesOf(req);
      sendHtml(
        res,
        200,
        renderView(kit, 'logoutConfirm', {
          ...pageBase(kit),
          cancel: { kind: 'link', href: pageBase(kit).homeUrl },
          form: { method: 'post', action, fields: { returnTo: sanitizeReturnTo(returnToRaw) } },
        }),
      );
      return;
    }
    const returnTo = sanitizeReturnTo(returnToRaw);
    if ((req.auth as Auth | undefined)?.error?.code === 'SESSION_STORE_UNAVAILABLE') {
      // The session could not be read, so it cannot be destroyed: say so (503) rather than clear
      // the cookie and report a sign-out while the session stays valid in Redis.
      throw new FedgateError('SESSION_STORE_UNAVAILABLE', 'Sign-out could not be completed; please try again shortly.');
    }
    const sess = req.session as SessionHandle | undefined;
    const auth = readSessionAuth(sess?.fedgate);
    if (sess) await destroySession(ctx, req);
    clearSessionCookie(ctx, res);
    if (auth) ctx.emit('logout', { connector: auth.connector, sub: auth.sub, upstream: upstreamLogoutOf(ctx, auth.connector) !== undefined }, req);
    const upstream = auth ? await upstreamLogoutUrl(ctx, auth, returnTo) : undefined;
    redirect(res, upstream ?? returnTo);
  } catch (err) {
    sendError(req, res, toFedgateError(err));
  }
}

/** How long a logout `state` waits for the browser to come back from the upstream, seconds. */
const logoutStateTtl = 600;
const logoutStateKey = (state: string) => `logout:${state}`;

/**
 * Where the browser continues after the local session ended, when the connector asks for upstream
 * logout (`logout: "upstream"`) and the vendor has a logout endpoint; undefined otherwise. The
 * local session is gone already, so an unreachable upstream only skips its logout.
 *
 * A random, single-use `state` goes with the request (RP-Initiated Logout 1.0 §2; some providers,
 * glewlwyd among them, only send the browser back when it is present) and is remembered with
 * `returnTo`: when the browser comes back with it, {@link handlePostLogoutReturn} continues there.
 * https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 */
export async function upstreamLogoutUrl(ctx: GatewayContext, auth: SessionAuth, returnTo = '/'): Promise<string | undefined> {
  const upstream = upstreamLogoutOf(ctx, auth.connector);
  if (!upstream) return undefined;
  try {
    const state = randomToken();
    await ctx.kv.set(logoutStateKey(state), returnTo, logoutStateTtl);
    const url = await upstream.connector.buildLogoutUrl({
      ...(auth.upstream.idToken ? { idToken: auth.upstream.idToken } : {}),
      ...(auth.upstream.logoutData ? { data: auth.upstream.logoutData } : {}),
      postLogoutRedirectUri: upstream.postLogoutRedirectUri,
      state,
    });
    return url?.href;
  } catch (err) {
    const e = toFedgateError(err);
    ctx.logger.warn({ event: 'logout.upstream_failed', connector: auth.connector, code: e.code }, 'Upstream logout skipped');
    return undefined;
  }
}

/**
 * The browser back from the upstream's logout at a connector's post-logout URI: with a `state`
 * this gateway issued (single use, bounded lifetime), it continues to the `returnTo` of that
 * logout. Any other request there, an unknown or replayed `state` included, is left to the app
 * (false) and no redirect is taken from it.
 */
export async function handlePostLogoutReturn(ctx: GatewayContext, req: Req, res: Res, landingPaths: ReadonlySet<string>, path: string): Promise<boolean> {
  if (!landingPaths.has(path) || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const state = single(queryOf(req), 'state');
  if (!state || !/^[A-Za-z0-9_-]{20,100}$/.test(state)) return false;
  // The app's own page must not fail because Redis does: without the store, the state is just not honoured.
  const returnTo = await ctx.kv.take(logoutStateKey(state)).catch(() => null);
  if (returnTo === null) return false;
  noStore(res);
  redirect(res, sanitizeReturnTo(returnTo));
  return true;
}

/** Paths on this gateway's origin where upstream logouts send the browser back. */
export function postLogoutLandingPaths(ctx: GatewayContext): Set<string> {
  const origin = new URL(ctx.config.baseUrl).origin;
  const paths = new Set<string>();
  for (const id of ctx.connectors.keys()) {
    const upstream = upstreamLogoutOf(ctx, id);
    if (!upstream) continue;
    const uri = new URL(upstream.postLogoutRedirectUri);
    if (uri.origin === origin) paths.add(uri.pathname);
  }
  return paths;
}

/**
 * The connector `id` and where its upstream sends the browser back, when its entry asks for
 * upstream logout (`logout: "upstream"`) and the connector has that capability; else undefined.
 */
function upstreamLogoutOf(ctx: GatewayContext, id: string): { connector: UpstreamLogout; postLogoutRedirectUri: string } | undefined {
  const connector = ctx.connectors.get(id);
  const settings = settingsOf(ctx.config, id);
  if (!connector || !settings?.upstreamLogout || !logsOutUpstream(connector)) return undefined;
  return { connector, postLogoutRedirectUri: settings.postLogoutRedirectUri };
}

function clearSessionCookie(ctx: GatewayContext, res: Res): void {
  setCookie(res, ctx.config.session.cookieName, '', { path: '/', secure: ctx.config.secure, maxAge: 0 });
}
