import { anonymous, type Auth } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { FedgateError, toFedgateError } from '../errors.js';
import type { Req, Res } from '../http/respond.js';
import { readSessionAuth, sessionExpiry, touchGranularityMs, type SessionAuth } from '../session/state.js';
import { destroySession, type SessionHandle } from '../session/lifecycle.js';
import { refreshIfNeeded } from '../session/refresh.js';
import { requestIdOf } from '../events.js';

const bearerPattern = /^Bearer[ ]+([^\s]+)[ ]*$/i;

/**
 * Works out who the request is. The rule when both are present: an `Authorization: Bearer`
 * header alone decides and the session cookie is not read, so identities never merge.
 * Any failure yields an unauthenticated `req.auth` carrying the error, never access.
 */
export async function resolveAuth(ctx: GatewayContext, req: Req, res: Res): Promise<Auth> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = bearerPattern.exec(header);
    if (m) return resolveBearer(ctx, m[1]!);
  }
  try {
    await ctx.loadSession(req, res);
  } catch (err) {
    const e = toFedgateError(err);
    ctx.logger.warn({ event: 'session.load_failed', requestId: requestIdOf(req), code: e.code, detail: e.detail }, 'Session could not be loaded');
    return anonymous({ code: 'SESSION_STORE_UNAVAILABLE', status: 503 });
  }
  return resolveSession(ctx, req);
}

async function resolveBearer(ctx: GatewayContext, token: string): Promise<Auth> {
  try {
    const v = await ctx.tokens.verifyAccessToken(token);
    if (ctx.config.tokens.sessionBound) {
      if (!v.sid || !(await ctx.kv.get(`sid:${v.sid}`))) throw new FedgateError('TOKEN_INVALID', 'Access token invalid', { detail: 'session ended' });
    }
    const claims: Record<string, unknown> = {};
    for (const [k, value] of Object.entries(v.claims)) claims[k] = value;
    return {
      isAuthenticated: true,
      sub: v.sub,
      claims: Object.freeze(claims),
      connector: v.sub.slice(0, v.sub.indexOf('|')) || undefined,
      accessToken: token,
      scope: v.scope,
      via: 'bearer',
    } as Auth;
  } catch (err) {
    const e = toFedgateError(err);
    if (e.code === 'TOKEN_INVALID') return anonymous({ code: 'TOKEN_INVALID', status: 401 });
    return anonymous({ code: e.code, status: e.status === 401 ? 401 : 503 });
  }
}

async function resolveSession(ctx: GatewayContext, req: Req): Promise<Auth> {
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
    await new Promise<void>((resolve) => sess.destroy(() => resolve()));
    return anonymous();
  }
  if (now - auth.lastSeen >= touchGranularityMs(t)) auth.lastSeen = now;
  let current = auth;
  try {
    const outcome = await refreshIfNeeded(ctx, req, auth);
    if (outcome.kind === 'ended') {
      ctx.emit('refresh.failed', { connector: auth.connector, sub: auth.sub, code: outcome.reason, ended: true }, req);
      await destroySession(ctx, req).catch(() => undefined);
      return anonymous();
    }
    current = outcome.auth;
  } catch (err) {
    const e = toFedgateError(err);
    ctx.emit('refresh.failed', { connector: auth.connector, sub: auth.sub, code: e.code, ended: false }, req);
    return anonymous({ code: e.code === 'INTERNAL_ERROR' ? 'UPSTREAM_UNAVAILABLE' : e.code, status: 503 });
  }
  return authFromSession(ctx, current);
}

async function authFromSession(ctx: GatewayContext, auth: SessionAuth): Promise<Auth> {
  try {
    const local = await ctx.tokens.tokensFor(auth);
    const connector = ctx.connectors.get(auth.connector);
    const expose = connector && (connector as { exposeUpstreamTokens?: boolean }).exposeUpstreamTokens;
    return {
      isAuthenticated: true,
      sub: auth.sub,
      claims: auth.claims,
      connector: auth.connector,
      idToken: local.idToken,
      accessToken: local.accessToken,
      scope: auth.scope,
      via: 'session',
      ...(expose ? { upstream: { idToken: auth.upstream.idToken, accessToken: auth.upstream.accessToken, expiresAt: auth.upstream.expiresAt } } : {}),
    } as Auth;
  } catch (err) {
    const e = toFedgateError(err);
    ctx.logger.error({ event: 'tokens.mint_failed', code: e.code, detail: e.detail }, 'Local tokens could not be minted');
    return anonymous({ code: e.code === 'INTERNAL_ERROR' ? 'KEYS_UNAVAILABLE' : e.code, status: 503 });
  }
}
