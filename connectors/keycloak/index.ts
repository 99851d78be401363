import { defineConnectorType } from '../../lib/connector.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { genericClaims, OidcConnector, validateOidcBase, type OidcPreset } from '../oidc/index.js';
import { trimSlash, withParams } from '../common/vendor-url.js';
import { addKeycloakRoles, keycloakRolesClaim } from './roles.js';
import { keycloakSchema, type KeycloakConfig } from './schema.js';

export { keycloakRolesClaim } from './roles.js';

/**
 * `{url}/realms/{realm}`; servers up to Keycloak 16 (and some later deployments) keep an `/auth`
 * prefix, which belongs in `url` (https://www.keycloak.org/docs/latest/upgrading/index.html#migrating-to-quarkus-distribution).
 */
export function keycloakIssuer(cfg: Pick<KeycloakConfig, 'url' | 'realm' | 'issuer'>): string {
  return cfg.issuer ?? `${trimSlash(cfg.url)}/realms/${encodeURIComponent(cfg.realm)}`;
}

/** Default mapping; roles come from the union the preset computes (see {@link keycloakRolesClaim}). */
export const keycloakClaims: ClaimMapping = {
  ...genericClaims,
  roles: { from: keycloakRolesClaim, type: 'string[]' },
};

/** Builds the Keycloak preset of the generic OIDC connector. */
export function keycloakPreset(cfg: KeycloakConfig): OidcPreset {
  const issuer = keycloakIssuer(cfg);
  return {
    issuer,
    scopes: ['openid', 'profile', 'email'],
    transformIdentity: (identity, tokens) => addKeycloakRoles(identity, tokens, cfg.clientId, cfg.rolesFromAccessToken ?? true),
    logoutUrl(meta, input) {
      // Since Keycloak 18, post_logout_redirect_uri needs id_token_hint or (19+) client_id, or a
      // confirmation page appears instead of the redirect; the old redirect_uri is gone
      // (https://gist.github.com/austincunningham/5be1ebd92bff95bf1a85434125815c4b, https://github.com/keycloak/keycloak-nodejs-connect/issues/425, https://github.com/mposolda/keycloak-documentation/blob/HEAD/upgrading/topics/keycloak/changes-19_0_2.adoc).
      const endpoint = meta.end_session_endpoint ?? `${trimSlash(meta.issuer)}/protocol/openid-connect/logout`;
      return withParams(endpoint, {
        id_token_hint: input.idToken,
        client_id: input.clientId,
        post_logout_redirect_uri: input.postLogoutRedirectUri,
      });
    },
  };
}

/** The `keycloak` connector type: realm issuer, realm and client roles, logout with `id_token_hint` and `client_id`. */
export const keycloakConnector = defineConnectorType({
  type: 'keycloak',
  schema: keycloakSchema,
  claims: () => keycloakClaims,
  validate: (cfg, at, ctx) => validateOidcBase(cfg, at, keycloakIssuer(cfg), ctx.allowInsecureRequests),
  create: (cfg, ctx) => new OidcConnector(cfg, ctx, keycloakPreset(cfg)),
});
