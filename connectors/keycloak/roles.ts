import type { UpstreamIdentity } from '../../lib/connector.js';
import { FedgateError } from '../../lib/errors.js';
import type { PresetTokens } from '../oidc/index.js';
import { isRecord } from '../../lib/values.js';

/**
 * The upstream claim the Keycloak preset fills with `realm_access.roles` ∪
 * `resource_access.{clientId}.roles`: the claim mapping picks the first present source and
 * cannot take a union, so the preset computes it. Always overwritten, never taken from upstream.
 */
export const keycloakRolesClaim = 'keycloak:roles';

function rolesAt(container: unknown, key?: string): string[] {
  let holder = container;
  if (key !== undefined) holder = isRecord(holder) && Object.hasOwn(holder, key) ? holder[key] : undefined;
  const roles = isRecord(holder) ? holder.roles : undefined;
  return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
}

/**
 * Adds {@link keycloakRolesClaim}. Keycloak puts roles in the access token by default, and in the
 * ID token only with a mapper set to "Add to ID token" (https://github.com/keycloak/keycloak/issues/14617, https://github.com/keycloak/keycloak/issues/14356, https://github.com/9p4/jellyfin-plugin-sso/issues/346). When
 * the ID token (or userinfo) has neither `realm_access` nor `resource_access`, the access token is
 * verified against the realm JWKS and must be ours: `azp` = our client (its `aud` is usually
 * "account") and `sub` = the ID token `sub`, as oauth2-proxy does (https://github.com/oauth2-proxy/oauth2-proxy/blob/HEAD/providers/keycloak_oidc.go).
 */
export async function addKeycloakRoles(
  identity: UpstreamIdentity,
  tokens: PresetTokens,
  clientId: string,
  fromAccessToken: boolean,
): Promise<UpstreamIdentity> {
  const claims: Record<string, unknown> = { ...identity.claims };
  delete claims[keycloakRolesClaim];
  if (!Object.hasOwn(claims, 'realm_access') && !Object.hasOwn(claims, 'resource_access') && fromAccessToken && tokens.verifyAccessToken) {
    const at = await tokens.verifyAccessToken();
    const reject = (detail: string) => new FedgateError('UPSTREAM_RESPONSE_INVALID', 'Keycloak sent an access token for another client or user.', { detail });
    if (at.azp !== clientId) throw reject('access token azp is not this client');
    if (at.sub !== identity.subject) throw reject('access token sub differs from the ID token sub');
    // Keycloak marks access tokens typ "Bearer" (ID tokens "ID", refresh tokens "Refresh").
    if (at.typ !== undefined && at.typ !== 'Bearer') throw reject('token typ is not Bearer');
    if (at.realm_access !== undefined) claims.realm_access = at.realm_access;
    if (at.resource_access !== undefined) claims.resource_access = at.resource_access;
  }
  const roles = new Set([...rolesAt(claims.realm_access), ...rolesAt(claims.resource_access, clientId)]);
  if (roles.size > 0) claims[keycloakRolesClaim] = [...roles];
  return { ...identity, claims };
}
