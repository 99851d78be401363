import type { KoaContextWithOIDC } from 'oidc-provider';
import type { FedgateError } from '../errors.js';
import { errorBody, escapeHtml, navigates, page, wantsHtml, type Req } from '../http/respond.js';
import { pageBase, pagesOf, renderView } from '../http/page.js';
import type { BrokerRuntime } from './runtime.js';
import { clientName } from './runtime.js';

/**
 * The pages oidc-provider renders itself (RP-initiated logout confirmation, post-logout, errors),
 * in fedgate's own accessible, escaped style. No inline script, no external resources.
 */

function html(ctx: KoaContextWithOIDC, status: number, body: string, formTargets = false): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  // form-action is left open on the logout page: its POST redirects on to the client's
  // post_logout_redirect_uri or the upstream's logout, which browsers check against form-action.
  ctx.set(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'${formTargets ? '' : "; form-action 'self'"}`,
  );
  ctx.body = body;
}

function stateSecret(ctx: KoaContextWithOIDC): string {
  const state = ctx.oidc.session?.state;
  const secret = state && typeof state.secret === 'string' ? state.secret : '';
  return secret;
}

/** `features.rpInitiatedLogout.logoutSource`: asks before ending the sign-in (the app's `views.logoutConfirm` when set). */
export function logoutSource(rt: BrokerRuntime) {
  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const action = ctx.oidc.urlFor('end_session_confirm');
    const client = ctx.oidc.client ? clientName(rt, ctx.oidc.client.clientId) : undefined;
    const kit = pagesOf(ctx.req);
    html(
      ctx,
      200,
      renderView(kit, 'logoutConfirm', {
        ...pageBase(kit),
        ...(client !== undefined ? { clientName: client } : {}),
        form: { method: 'post', action, fields: { xsrf: stateSecret(ctx) } },
        confirm: { name: 'logout', value: 'yes' },
        cancel: { kind: 'submit' },
      }),
      true,
    );
  };
}

/** `features.rpInitiatedLogout.postLogoutSuccessSource`: shown when the client gave no return URI. */
export function postLogoutSuccessSource(rt: BrokerRuntime) {
  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const client = ctx.oidc.client ? clientName(rt, ctx.oidc.client.clientId) : undefined;
    const kit = pagesOf(ctx.req);
    html(
      ctx,
      200,
      page('Signed out', `<h1>Signed out</h1><p>You have been signed out${client ? ` of ${escapeHtml(client)}` : ''}.</p>`, pageBase(kit).homeUrl),
    );
  };
}

/** `renderError`: the error the client caused, escaped; never a stack or a token (the app's `views.error` when set). */
export function renderError(_rt: BrokerRuntime) {
  return async (ctx: KoaContextWithOIDC, out: { error?: unknown; error_description?: unknown }): Promise<void> => {
    const error = typeof out.error === 'string' ? out.error : 'server_error';
    const description = typeof out.error_description === 'string' ? out.error_description : 'The request could not be completed.';
    const status = Math.max(ctx.status, 400);
    const kit = pagesOf(ctx.req);
    html(ctx, status, renderView(kit, 'error', { ...pageBase(kit), status, code: error, message: `${description} Return to the application and try again.` }));
  };
}

/** Seconds a client is asked to wait after a 503, as on fedgate's own routes (lib/http/respond.ts). */
const retryAfterSeconds = '5';

/**
 * Answers a request of the provider that failed because a store (Redis) or another dependency was
 * unavailable (a FedgateError with status 503): 503 + `Retry-After`, never oidc-provider's 500
 * `server_error`. Browser navigations get fedgate's error page; everything else (token,
 * revocation, PAR) the RFC 6749 §5.2 error shape with `temporarily_unavailable` (§4.1.2.1; RFC 7009
 * §2.2.1 names 503 for revocation), in fedgate's one JSON error shape (`code`, `message`) too.
 * Replaces whatever the provider had set: a redirect (its `Location`) must not survive.
 */
export function answerUnavailable(ctx: KoaContextWithOIDC, err: FedgateError): void {
  ctx.remove('Location');
  ctx.set('Retry-After', retryAfterSeconds);
  const req = ctx.req as Req;
  if (wantsHtml(req) || navigates(req)) {
    const kit = pagesOf(req);
    html(ctx, 503, renderView(kit, 'error', { ...pageBase(kit), status: 503, code: err.code, message: err.message }));
    return;
  }
  ctx.status = 503;
  // Explicitly: the provider may have rendered an HTML page already, and Koa keeps a set type.
  ctx.type = 'json';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.body = errorBody(err.code, err.message, { error: 'temporarily_unavailable', error_description: err.message });
}
