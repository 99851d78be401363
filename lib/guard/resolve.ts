import { anonymous, type Auth } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { settingsOf } from '../connector-settings.js';
import { FedgateError, toFedgateError } from '../errors.js';
import type { Req, Res } from '../http/respond.js';
import { readSessionAuth, sessionExpiry, touchGranularityMs, type SessionAuth } from '../session/state.js';
import { destroySession, type SessionHandle } from '../session/lifecycle.js';
import { needsRefresh, refreshIfNeeded } from '../session/refresh.js';
import { signedCookieFor, signedCookieOf } from '../session/cache.js';
import type { VerifiedAccessToken } from '../tokens/verify.js';
import { gatewayInfo } from './require-auth.js';
import { requestIdOf } from '../events.js';
import { deepFreeze } from '../values.js';
import { checkPresentation, isDpopBound, markDpopFailure, tokenCredential, type TokenCredential } from './dpop.js';

/**
 * Works out who the request is. The rule when both are present: an `Authorization: Bearer` (or
 * `DPoP`) header alone decides and the session cookie is not read, so identities never merge.
 * Any failure yields an unauthenticated `req.auth` carrying the error, never access.
 */
export async function resolveAuth(ctx: GatewayContext, req: Req, res: Res): Promise<Auth> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const credential = tokenCredential(header);
    if (credential) return resolveBearer(ctx, req, credential);
  }
  const cache = ctx.sessionCache;
  try {
    await ctx.loadSession(req, res);
    cache?.resume();
  } catch (err) {
    cache?.suspend();
    const e = toFedgateError(err);
    ctx.logger.warn({ event: 'session.load_failed', requestId: requestIdOf(req), code: e.code, detail: e.detail }, 'Session could not be loaded');
    return anonymous({ code: 'SESSION_STORE_UNAVAILABLE', status: 503 });
  }
  return resolveSession(ctx, req);
}

/**
 * The synchronous fast path, tried before anything else on app routes: a previously verified,
 * unexpired bearer token, or a cached session that needs no write-back or refresh. Undefined
 * sends the request down the full path; it never answers "no".
 */
export function resolveAuthFast(ctx: GatewayContext, req: Req): Auth | undefined {
  if (isGatewayPath(ctx, req)) return undefined;
  const header = req.headers.authorization;
  if (header !== undefined) {
    if (ctx.config.tokens.sessionBound) return undefined;
    // The DPoP scheme, and a DPoP-bound token sent as Bearer, take the full path (proof check, or refusal).
    const credential = tokenCredential(header);
    if (!credential || credential.dpop) return undefined;
    const v = ctx.tokens.peekAccessToken(credential.token);
    return v && !isDpopBound(v.claims) ? bearerAuth(v, credential.token, ctx.gatewayInfo) : undefined;
  }
  const cache = ctx.sessionCache;
  if (!cache?.usable()) return undefined;
  const signed = signedCookieOf(req, ctx.config.session.cookieName);
  if (signed === undefined) return undefined;
  const now = ctx.now();
  const hit = cache.get(signed, now);
  return hit && canServeFromCache(ctx, hit.auth, now) ? hit.reqAuth : undefined;
}

/** Fast-path Auth objects carry the gateway info, so requireAuth needs nothing added to `req`. */
function withGatewayInfo(ctx: GatewayContext, auth: Auth): Auth {
  Object.defineProperty(auth, gatewayInfo, { value: ctx.gatewayInfo, enumerable: false });
  return auth;
}

function bearerAuth(v: VerifiedAccessToken, token: string, info?: GatewayContext['gatewayInfo']): Auth {
  const bar = v.sub.indexOf('|');
  const auth = {
    // A symbol key: not enumerable by Object.keys/JSON, and part of the literal's shape (cheap).
    [gatewayInfo]: info,
    isAuthenticated: true,
    sub: v.sub,
    claims: v.claims,
    ...(bar > 0 ? { connector: v.sub.slice(0, bar) } : {}),
    accessToken: token,
    scope: v.scope,
    via: 'bearer',
  };
  return auth as Auth;
}

async function resolveBearer(ctx: GatewayContext, req: Req, credential: TokenCredential): Promise<Auth> {
  const { token } = credential;
  try {
    const v = await ctx.tokens.verifyAccessToken(token);
    await checkPresentation(ctx, req, credential, v.claims);
    if (ctx.config.tokens.sessionBound) {
      if (!v.sid || !(await ctx.kv.get(`sid:${v.sid}`))) throw new FedgateError('TOKEN_INVALID', 'Access token invalid', { detail: 'session ended' });
    }
    return bearerAuth(v, token);
  } catch (err) {
    const e = toFedgateError(err);
    const failed = (auth: Auth) => (credential.dpop ? markDpopFailure(auth) : auth);
    if (e.code === 'TOKEN_INVALID' || e.code === 'DPOP_PROOF_INVALID' || e.code === 'DPOP_BINDING_INVALID')
      return failed(anonymous({ code: e.code, status: 401 }));
    return anonymous({ code: e.code, status: e.status === 401 ? 401 : 503 });
  }
}

async function resolveSession(ctx: GatewayContext, req: Req): Promise<Auth> {
  const cache = ctx.sessionCache;
  const sess = req.session as SessionHandle | undefined;
  if (!sess || sess.fedgate === undefined) return anonymous();
  const auth = readSessionAuth(sess.fedgate);
  if (!auth) {
    // Corrupted or foreign data counts as no session.
    delete sess.fedgate;
    return anonymous();
  }
  const now = ctx.now();
  const t = ctx.config.session;
  const expired = sessionExpiry(auth, t, now);
  if (expired) {
    ctx.tokens.forget(auth.sid);
    ctx.emit('session.expired', { connector: auth.connector, sub: auth.sub, reason: expired }, req);
    delete sess.fedgate;
    const expiredId = req.sessionID;
    await new Promise<void>((resolve) => sess.destroy(() => resolve()));
    if (expiredId) ctx.sessionCache?.invalidate([expiredId]);
    return anonymous();
  }
  if (now - auth.lastSeen >= touchGranularityMs(t)) auth.lastSeen = now;
  let current = auth;
  try {
    const outcome = await refreshIfNeeded(ctx, req, auth);
    if (outcome.kind === 'ended') {
      ctx.emit('refresh.failed', { connector: auth.connector, sub: auth.sub, code: outcome.code, ended: true, detail: outcome.detail }, req);
      await destroySession(ctx, req).catch(() => undefined);
      return anonymous();
    }
    current = outcome.auth;
  } catch (err) {
    const e = toFedgateError(err);
    ctx.emit('refresh.failed', { connector: auth.connector, sub: auth.sub, code: e.code, ended: false }, req);
    return anonymous({ code: e.code === 'INTERNAL_ERROR' ? 'UPSTREAM_UNAVAILABLE' : e.code, status: 503 });
  }
  const resolved = await authFromSession(ctx, current);
  if (cache && resolved.isAuthenticated && req.sessionID && !isGatewayPath(ctx, req)) {
    const signed = signedCookieFor(req, ctx.config.session.cookieName, req.sessionID);
    const tokensUntil = (resolved as { tokensExpireAt?: number }).tokensExpireAt ?? now;
    if (signed) cache.set(signed, req.sessionID, { auth: current, reqAuth: deepFreeze(withGatewayInfo(ctx, resolved)) }, now, tokensUntil);
  }
  return resolved;
}

/** A cached session is served only while nothing about it needs the full path. */
function canServeFromCache(ctx: GatewayContext, auth: SessionAuth, now: number): boolean {
  const t = ctx.config.session;
  return !sessionExpiry(auth, t, now) && now - auth.lastSeen < touchGranularityMs(t) && !needsRefresh(auth, Math.floor(now / 1000));
}

function isGatewayPath(ctx: GatewayContext, req: Req): boolean {
  const url = req.originalUrl ?? req.url ?? '';
  const base = ctx.config.basePath;
  return url.startsWith(base) && (url.length === base.length || url[base.length] === '/' || url[base.length] === '?');
}

async function authFromSession(ctx: GatewayContext, auth: SessionAuth): Promise<Auth> {
  try {
    const local = await ctx.tokens.tokensFor(auth);
    const result = buildSessionAuth(ctx, auth, local);
    // Cache entries must not outlive the local tokens they carry (re-minted 30 s before expiry).
    Object.defineProperty(result, 'tokensExpireAt', { value: (local.expiresAt - 30) * 1000, enumerable: false });
    return result;
  } catch (err) {
    const e = toFedgateError(err);
    ctx.logger.error({ event: 'tokens.mint_failed', code: e.code, detail: e.detail }, 'Local tokens could not be minted');
    return anonymous({ code: e.code === 'INTERNAL_ERROR' ? 'KEYS_UNAVAILABLE' : e.code, status: 503 });
  }
}

function buildSessionAuth(ctx: GatewayContext, auth: SessionAuth, local: { idToken: string; accessToken: string }): Auth {
  const expose = settingsOf(ctx.config, auth.connector)?.exposeUpstreamTokens === true;
  return {
    isAuthenticated: true,
    sub: auth.sub,
    // A copy: the cached req.auth is frozen, the session's own claims are not.
    claims: { ...auth.claims },
    connector: auth.connector,
    idToken: local.idToken,
    accessToken: local.accessToken,
    scope: [...auth.scope],
    via: 'session',
    ...(expose ? { upstream: { idToken: auth.upstream.idToken, accessToken: auth.upstream.accessToken, expiresAt: auth.upstream.expiresAt } } : {}),
  } as Auth;
}
