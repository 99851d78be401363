import type { Connector, UpstreamIdentity } from '../connector.js';
import type { GatewayContext } from '../context.js';
import type { FedgateError } from '../errors.js';
import { requestIdOf } from '../events.js';
import type { Req } from '../http/respond.js';
import { establishSession } from '../session/lifecycle.js';
import { localIdentityOf, upstreamTokensOf } from '../session/identity.js';
import type { SessionAuth } from '../session/state.js';
import { randomToken } from './transactions.js';

function isAudience(v: unknown): v is string | string[] {
  return typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
}

/** An upstream `auth_time` worth keeping: a positive finite number (some upstreams send 0). */
function upstreamAuthTime(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined;
}

/**
 * The end of every upstream login (redirect or form-post callback): maps the identity, starts a
 * fresh session (new id) holding the upstream data server-side, and emits `login.succeeded`.
 */
export async function establishLogin(ctx: GatewayContext, req: Req, connector: Connector, identity: UpstreamIdentity): Promise<void> {
  const { sub, claims, scope } = localIdentityOf(ctx, connector.id, identity);
  const now = ctx.now();
  const authTime = upstreamAuthTime(identity.claims.auth_time) ?? Math.floor(now / 1000);
  const auth: SessionAuth = {
    v: 1,
    sid: randomToken(),
    sub,
    connector: connector.id,
    claims,
    scope,
    authTime,
    createdAt: now,
    lastSeen: now,
    rev: 0,
    upstream: {
      sub: identity.subject,
      ...(identity.sid ? { sid: identity.sid } : {}),
      ...upstreamTokensOf(identity, Math.floor(now / 1000)),
      ...(typeof identity.claims.iss === 'string' ? { iss: identity.claims.iss } : {}),
      ...(isAudience(identity.claims.aud) ? { aud: identity.claims.aud } : {}),
      ...(identity.logoutData ? { logoutData: identity.logoutData } : {}),
      // Handed back to the connector at refresh: a refresh response need not carry an ID token.
      claims: identity.claims,
    },
  };
  await establishSession(ctx, req, auth);
  ctx.emit('login.succeeded', { connector: connector.id, sub }, req);
}

/**
 * The audit side of a failed login, wherever it failed (start, callback, form-post callback): the
 * `login.failed` event with its code, and the detail (never a secret) at debug level.
 */
export function reportLoginFailure(ctx: GatewayContext, req: Req, connector: string | undefined, e: FedgateError): void {
  ctx.emit('login.failed', { ...(connector !== undefined ? { connector } : {}), code: e.code }, req);
  if (e.detail) ctx.logger.debug({ event: 'login.failed.detail', requestId: requestIdOf(req), code: e.code, detail: e.detail }, 'Login failure detail');
}
