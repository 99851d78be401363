import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { decodeJwt } from 'jose';
import type { Req, Res } from '../http/respond.js';
import { sessionPrincipal, type BrokerRuntime } from './runtime.js';
import type { LogoutChain } from './logout-chain.js';
import { isRecord } from '../values.js';
import { FedgateError } from '../errors.js';
import { answerUnavailable } from './provider-pages.js';

/**
 * Koa middleware around the whole provider, plus event logging:
 * - discovery advertises fedgate's userinfo route (the provider's own is off, see userinfo.ts);
 * - a successful authorization links the provider session to the fedgate session (logout chain);
 * - the token response's `scope` states what the access token carries;
 * - a client's revocation of its refresh token also ends its grant's JWT access tokens;
 * - a confirmed RP-initiated logout also ends the fedgate session (and the upstream one);
 * - a request that failed on an unavailable store answers 503 + `Retry-After` (see {@link installUnavailableAnswer}).
 */
export function installProviderHooks(rt: BrokerRuntime, provider: Provider, chain: LogoutChain): void {
  logProviderEvents(rt, provider);
  // First: the outermost middleware, so that it also sees the failures of the hooks below.
  installUnavailableAnswer(rt, provider);
  const base = `${rt.ctx.config.baseUrl}${rt.ctx.config.basePath}`;
  provider.use(async (kctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    const route = kctx.oidc?.route;
    if (route === 'discovery' && isRecord(kctx.body)) {
      kctx.body = { ...kctx.body, userinfo_endpoint: `${base}/userinfo` };
    } else if ((route === 'authorization' || route === 'resume') && kctx.status < 500) {
      await linkSessions(rt, chain, kctx);
    } else if (route === 'token' && kctx.status === 200) {
      statedScope(kctx);
    } else if (route === 'revocation' && kctx.status === 200) {
      await forgetRevokedAccessTokens(rt, kctx);
    } else if (route === 'end_session_confirm' && kctx.status >= 300 && kctx.status < 400) {
      await endFedgateSession(rt, chain, kctx);
    }
  });
}

function logProviderEvents(rt: BrokerRuntime, provider: Provider): void {
  const log = rt.ctx.logger;
  provider.on('server_error', (_kctx: KoaContextWithOIDC, err: Error) => {
    if (unavailable(err)) return;
    log.error({ event: 'broker.server_error', err: err.message.slice(0, 200) }, 'Broker provider failure');
  });
  // Koa prints unhandled errors to stderr unless someone listens; the logger is the place.
  (provider as unknown as NodeJS.EventEmitter).on('error', (err: unknown) => {
    log.error({ event: 'broker.error', err: err instanceof Error ? err.message.slice(0, 200) : 'unknown' }, 'Broker provider error');
  });
  provider.on('grant.revoked', (_kctx: KoaContextWithOIDC, _grantId: string) => {
    log.info({ event: 'broker.grant_revoked' }, 'Grant revoked (token reuse, code replay or revocation)');
  });
}

/** A store (Redis) or another dependency failed: FedgateError with status 503 (`guardRedis` makes them). */
function unavailable(err: unknown): err is FedgateError {
  return err instanceof FedgateError && err.status === 503;
}

/**
 * oidc-provider's per-route error handlers catch every error first and answer 500 `server_error`
 * for any error that is not its own (they read `statusCode` / `expose`); they report it in the
 * `server_error` event, with the error. That event marks the request; errors past those handlers
 * (saving the provider session after the route, the hooks above) are caught here directly. Either
 * way the answer becomes 503 + `Retry-After` (`answerUnavailable`); other errors stay as they were.
 */
function installUnavailableAnswer(rt: BrokerRuntime, provider: Provider): void {
  const failed = new WeakMap<KoaContextWithOIDC, FedgateError>();
  provider.on('server_error', (kctx: KoaContextWithOIDC, err: unknown) => {
    if (unavailable(err)) failed.set(kctx, err);
  });
  provider.use(async (kctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    try {
      await next();
    } catch (err) {
      if (!unavailable(err)) throw err;
      failed.set(kctx, err);
    }
    const err = failed.get(kctx);
    if (!err) return;
    rt.ctx.logger.warn(
      { event: 'broker.unavailable', route: kctx.oidc?.route, code: err.code, detail: err.detail },
      'Broker request answered 503: a store or dependency is unavailable',
    );
    answerUnavailable(kctx, err);
  });
}

/** After an authorization: the provider session rides on this user's fedgate session. */
async function linkSessions(rt: BrokerRuntime, chain: LogoutChain, kctx: KoaContextWithOIDC): Promise<void> {
  const req = kctx.req as Req;
  const session = kctx.oidc.session;
  const principal = sessionPrincipal(req);
  if (session?.accountId && principal?.sub === session.accountId && req.sessionID) {
    await rt.records.link(req.sessionID, session.uid);
    await chain.linked(req.sessionID);
  }
}

/** The token response's `scope` is the access token's own. */
function statedScope(kctx: KoaContextWithOIDC): void {
  if (!isRecord(kctx.body) || typeof kctx.body.access_token !== 'string') return;
  try {
    const scope = decodeJwt(kctx.body.access_token).scope;
    if (typeof scope === 'string') kctx.body = { ...kctx.body, scope };
  } catch {
    // Not a JWT: leave the response as oidc-provider built it.
  }
}

async function forgetRevokedAccessTokens(rt: BrokerRuntime, kctx: KoaContextWithOIDC): Promise<void> {
  // The provider deleted the grant's stored tokens; its JWT access tokens are not stored, so
  // they end here (RFC 7009 §2.1). Only for the client's own token: others are ignored.
  const token = kctx.oidc.entities.RefreshToken ?? kctx.oidc.entities.AccessToken;
  if (token?.grantId && token.clientId === kctx.oidc.client?.clientId) await rt.records.forgetAccessTokens(token.grantId);
}

async function endFedgateSession(rt: BrokerRuntime, chain: LogoutChain, kctx: KoaContextWithOIDC): Promise<void> {
  const params = kctx.oidc.params;
  // Only a confirmed "sign me out" of this user's provider session ends the fedgate session.
  // (oidc-provider also ends a provider session this way when another user signs in in the
  // same browser; the fedgate session is then the new user's and stays.)
  const accountId = kctx.oidc.session?.accountId;
  if (!params?.logout || !accountId || sessionPrincipal(kctx.req as Req)?.sub !== accountId) return;
  const upstream = await chain.endFedgateSession(kctx.req as Req, kctx.res as Res);
  const { cookieName } = rt.ctx.config.session;
  kctx.append(
    'Set-Cookie',
    `${cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${rt.ctx.config.secure ? '; Secure' : ''}`,
  );
  if (upstream) kctx.redirect(upstream);
}
