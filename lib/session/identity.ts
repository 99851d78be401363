import { mapClaims } from '../claims/map.js';
import type { UpstreamIdentity } from '../connector.js';
import type { GatewayContext } from '../context.js';
import { FedgateError } from '../errors.js';
import type { SessionAuth } from './state.js';

/** The local view of an upstream identity: subject, mapped claims and local scopes. */
export interface LocalIdentity {
  sub: string;
  claims: Record<string, unknown>;
  scope: string[];
}

/**
 * Maps an upstream identity with its connector's mapping. The local subject is always
 * `<connector id>|<mapped sub>` (the upstream subject when the mapping has none), so two upstreams
 * can never yield the same subject. Used at login and at every refresh, so both agree.
 */
export function localIdentityOf(ctx: GatewayContext, connectorId: string, identity: UpstreamIdentity): LocalIdentity {
  const mapping = ctx.mappings.get(connectorId);
  if (!mapping) throw new FedgateError('CONNECTOR_UNKNOWN', 'No such sign-in provider.');
  const mapped = mapClaims(mapping, identity.claims);
  const sub = `${connectorId}|${mapped.sub === undefined ? identity.subject : String(mapped.sub)}`;
  const claims = { ...mapped, sub };
  return { sub, claims, scope: ctx.tokens.scopesFor(claims) };
}

/** The upstream token fields of a session, from a login or refresh result (absent ones stay absent). */
export function upstreamTokensOf(identity: UpstreamIdentity, nowS: number): Partial<SessionAuth['upstream']> {
  const t = identity.tokens;
  return {
    ...(t.idToken ? { idToken: t.idToken } : {}),
    ...(t.accessToken ? { accessToken: t.accessToken } : {}),
    ...(t.refreshToken ? { refreshToken: t.refreshToken } : {}),
    ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
    obtainedAt: nowS,
  };
}
