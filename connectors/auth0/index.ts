import { defineConnectorType } from '../../lib/connector.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { genericClaims, OidcConnector, validateOidcBase, type OidcPreset } from '../oidc/index.js';
import { originOf, trimSlash, withParams } from '../common/vendor-url.js';
import { auth0Schema, type Auth0Config } from './schema.js';

/** The issuer Auth0 puts in `iss`: always with a trailing slash, compared exactly (https://community.auth0.com/t/the-userinfo-endpoint-returns-401-unauthorized/6103). */
export function auth0Issuer(cfg: Pick<Auth0Config, 'domain' | 'issuer'>): string {
  return cfg.issuer ?? `${originOf(cfg.domain)}/`;
}

/**
 * Default mapping. Auth0 refuses non-namespaced `roles`/`groups` from Actions (reserved names since
 * the 2022 custom-claims migration), so they only exist under the configured namespace (https://auth0.com/docs/tokens/create-namespaced-custom-claims)
 * (https://auth0.com/docs/troubleshoot/product-lifecycle/past-migrations/custom-claims-migration); `nickname` is Auth0's user name claim.
 */
export function auth0Claims(claimNamespace?: string): ClaimMapping {
  const mapping: ClaimMapping = { ...genericClaims, username: 'nickname', groups: null, roles: null };
  if (claimNamespace !== undefined) {
    const ns = claimNamespace.endsWith('/') ? claimNamespace : `${claimNamespace}/`;
    mapping.groups = { from: `${ns}groups`, type: 'string[]' };
    mapping.roles = { from: `${ns}roles`, type: 'string[]' };
  }
  return mapping;
}

/** Builds the Auth0 preset of the generic OIDC connector. */
export function auth0Preset(cfg: Auth0Config): OidcPreset {
  const issuer = auth0Issuer(cfg);
  return {
    issuer,
    scopes: ['openid', 'profile', 'email'],
    logoutUrl(meta, input) {
      // `end_session_endpoint` is only advertised when the tenant's "RP-Initiated Logout End
      // Session Endpoint Discovery" setting is on (default for tenants after 2023-11-14)
      // (https://auth0.com/docs/ja-jp/authenticate/login/logout/log-users-out-of-auth0, https://auth0.com/docs/api/authentication/logout/oidc-logout.md); older tenants only have the legacy `/v2/logout`.
      if (meta.end_session_endpoint) {
        return withParams(meta.end_session_endpoint, {
          id_token_hint: input.idToken,
          post_logout_redirect_uri: input.postLogoutRedirectUri,
          client_id: input.clientId,
        });
      }
      return withParams(`${trimSlash(meta.issuer)}/v2/logout`, { client_id: input.clientId, returnTo: input.postLogoutRedirectUri });
    },
  };
}

/** The `auth0` connector type: issuer `https://{domain}/`, namespaced roles/groups, both logout flavours. */
export const auth0Connector = defineConnectorType({
  type: 'auth0',
  schema: auth0Schema,
  claims: (cfg) => auth0Claims(cfg.claimNamespace),
  validate: (cfg, at, ctx) => validateOidcBase(cfg, at, auth0Issuer(cfg), ctx.allowInsecureRequests),
  create: (cfg, ctx) => new OidcConnector(cfg, ctx, auth0Preset(cfg)),
});
