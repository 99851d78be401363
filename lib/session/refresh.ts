import type { GatewayContext } from '../context.js';
import { FedgateError, toFedgateError, type ErrorCode } from '../errors.js';
import { randomToken } from '../random.js';
import type { Req } from '../http/respond.js';
import type { SessionHandle } from './lifecycle.js';
import { readSessionAuth, type SessionAuth } from './state.js';
import { localIdentityOf, upstreamTokensOf } from './identity.js';
import { canRefresh, type Refreshable, type UpstreamIdentity } from '../connector.js';
import { settingsOf } from '../connector-settings.js';
import { isRecord } from '../values.js';

const lockLeaseMs = 15_000;
const waitForWinnerMs = 5_000;

/** Refresh when this close to the upstream expiry: a quarter of the lifetime, at most 30 s. */
export function needsRefresh(auth: SessionAuth, nowS: number): boolean {
  const { expiresAt, obtainedAt, refreshToken } = auth.upstream;
  if (!refreshToken || expiresAt === undefined) return false;
  const lifetime = obtainedAt !== undefined ? expiresAt - obtainedAt : 120;
  const margin = Math.min(30, Math.max(1, Math.floor(lifetime / 4)));
  return nowS >= expiresAt - margin;
}

export type RefreshOutcome = { kind: 'unchanged' | 'refreshed'; auth: SessionAuth } | { kind: 'ended'; code: ErrorCode; detail: string };

/**
 * Refreshes the upstream tokens when they near expiry — single-flight across requests and
 * instances through a Redis lock whose lease is renewed while the refresh runs. Losers wait for
 * the winner and adopt its result, so rotating refresh tokens never log a user out because two
 * requests raced. A refused refresh token (any 4xx of the token endpoint) or a changed identity
 * ends the session; an unreachable upstream throws (503) and leaves the session as it is, with a
 * rotated refresh token already stored.
 */
export async function refreshIfNeeded(ctx: GatewayContext, req: Req, auth: SessionAuth): Promise<RefreshOutcome> {
  if (!needsRefresh(auth, Math.floor(ctx.now() / 1000))) return { kind: 'unchanged', auth };
  const connector = ctx.connectors.get(auth.connector);
  if (!connector || !canRefresh(connector) || !settingsOf(ctx.config, auth.connector)?.refresh) return { kind: 'unchanged', auth };
  const sess = req.session as SessionHandle;
  const lockKey = `lock:refresh:${auth.sid}`;
  const token = randomToken();
  if (await ctx.kv.setIfAbsent(lockKey, token, Math.ceil(lockLeaseMs / 1000))) {
    const renew = setInterval(() => {
      ctx.kv.expireIfEquals(lockKey, token, lockLeaseMs).catch(() => undefined);
    }, lockLeaseMs / 3);
    renew.unref();
    try {
      // Double-checked: another instance may have refreshed just before we took the lock.
      const latest = await reload(ctx, req);
      if (!latest) return { kind: 'ended', code: 'UNAUTHORIZED', detail: 'session gone' };
      if (latest.rev > auth.rev) return adopt(sess, latest);
      return await refreshWith(ctx, req, connector, auth, latest);
    } finally {
      clearInterval(renew);
      await ctx.kv.delIfEquals(lockKey, token).catch(() => undefined);
    }
  }
  // Another request holds the lock: wait for it and adopt its result.
  const deadline = ctx.now() + waitForWinnerMs;
  while (ctx.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const latest = await reload(ctx, req);
    if (!latest) return { kind: 'ended', code: 'UNAUTHORIZED', detail: 'session ended during a concurrent refresh' };
    if (latest.rev > auth.rev) return adopt(sess, latest);
    if (!(await ctx.kv.get(lockKey))) break;
  }
  const latest = await reload(ctx, req);
  if (!latest) return { kind: 'ended', code: 'UNAUTHORIZED', detail: 'session ended during a concurrent refresh' };
  if (latest.rev > auth.rev) return adopt(sess, latest);
  throw new FedgateError('UPSTREAM_UNAVAILABLE', 'The session could not be refreshed right now.', { detail: 'refresh lock not released in time' });
}

/** The winner's refresh: the connector's token request, the re-mapped identity, the session saved. */
async function refreshWith(ctx: GatewayContext, req: Req, connector: Refreshable, auth: SessionAuth, latest: SessionAuth): Promise<RefreshOutcome> {
  const sess = req.session as SessionHandle;
  let identity: UpstreamIdentity;
  try {
    identity = await connector.refresh({
      refreshToken: latest.upstream.refreshToken!,
      original: storedIdentity(latest),
      saveTokens: async (tokens) => {
        // A rotated refresh token is stored before anything else can fail (userinfo, mapping).
        if (!tokens.refreshToken || tokens.refreshToken === latest.upstream.refreshToken) return;
        sess.fedgate = { ...latest, upstream: { ...latest.upstream, refreshToken: tokens.refreshToken } };
        await saveSession(sess);
      },
    });
  } catch (err) {
    const e = toFedgateError(err);
    if (endingCodes.has(e.code)) return { kind: 'ended', code: e.code, detail: e.message };
    throw e;
  }
  const local = localIdentityOf(ctx, auth.connector, identity);
  if (local.sub !== latest.sub) return { kind: 'ended', code: 'REFRESH_REJECTED', detail: 'subject changed' };
  // A refresh without expires_in leaves no stale expiry behind.
  const { expiresAt: _previousExpiry, ...kept } = latest.upstream;
  const next: SessionAuth = {
    ...latest,
    lastSeen: Math.max(latest.lastSeen, auth.lastSeen),
    claims: local.claims,
    scope: local.scope,
    rev: latest.rev + 1,
    upstream: {
      ...kept,
      ...upstreamTokensOf(identity, Math.floor(ctx.now() / 1000)),
      claims: identity.claims,
      // The connector's latest word on its logout (the session index keeps the login's `sid`).
      ...(identity.logoutData ? { logoutData: identity.logoutData } : {}),
    },
  };
  sess.fedgate = next;
  await saveSession(sess);
  // Other instances drop their cached copy of this session (claims and tokens changed).
  if (req.sessionID) ctx.sessionCache?.invalidate([req.sessionID]);
  ctx.emit('refresh.succeeded', { connector: auth.connector, sub: auth.sub }, req);
  return { kind: 'refreshed', auth: next };
}

/** Failures after which the session cannot go on: the user signs in again. */
const endingCodes = new Set<ErrorCode>(['REFRESH_REJECTED', 'ID_TOKEN_INVALID', 'USERINFO_SUBJECT_MISMATCH']);

/**
 * The identity the connector returned at the last login or refresh, exactly as the session stored
 * it: subject, upstream claims, tokens, `sid` and `logoutData`. Nothing is added: sessions of older
 * versions, which kept no claims, hand over the stored `iss` and `aud` only.
 */
function storedIdentity(auth: SessionAuth): UpstreamIdentity {
  const u = auth.upstream;
  const claims = isRecord(u.claims) ? u.claims : { ...(u.iss ? { iss: u.iss } : {}), ...(u.aud ? { aud: u.aud } : {}) };
  return {
    subject: u.sub,
    claims,
    tokens: {
      ...(u.idToken ? { idToken: u.idToken } : {}),
      ...(u.accessToken ? { accessToken: u.accessToken } : {}),
      ...(u.refreshToken ? { refreshToken: u.refreshToken } : {}),
      ...(u.expiresAt !== undefined ? { expiresAt: u.expiresAt } : {}),
    },
    ...(u.sid ? { sid: u.sid } : {}),
    ...(u.logoutData ? { logoutData: u.logoutData } : {}),
  };
}

function saveSession(sess: SessionHandle): Promise<void> {
  return new Promise<void>((resolve, reject) => sess.save((err) => (err ? reject(err) : resolve())));
}

function adopt(sess: SessionHandle, latest: SessionAuth): RefreshOutcome {
  sess.fedgate = latest;
  return { kind: 'refreshed', auth: latest };
}

async function reload(ctx: GatewayContext, req: Req): Promise<SessionAuth | undefined> {
  const id = req.sessionID;
  if (!id) return undefined;
  const data = await new Promise<unknown>((resolve, reject) => {
    ctx.store.get(id, (err: unknown, value?: unknown) => (err ? reject(err) : resolve(value)));
  }).catch((err: unknown) => {
    throw new FedgateError('SESSION_STORE_UNAVAILABLE', 'The session store is unavailable; please try again shortly.', { cause: err });
  });
  return readSessionAuth((data as { fedgate?: unknown } | undefined)?.fedgate);
}
