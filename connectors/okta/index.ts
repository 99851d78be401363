import { defineConnectorType } from '../../lib/connector.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { genericClaims, OidcConnector, validateOidcBase, type OidcPreset } from '../oidc/index.js';
import { originOf, trimSlash, withParams } from '../common/vendor-url.js';
import { oktaSchema, type OktaConfig } from './schema.js';

/**
 * Org authorization server `https://{domain}` or custom server `https://{domain}/oauth2/{id}`
 * (https://github.com/okta/okta-developer-docs/blob/HEAD/packages/@okta/vuepress-site/docs/reference/api/oidc/index.md, https://developer.okta.com/docs/concepts/auth-servers).
 */
export function oktaIssuer(cfg: Pick<OktaConfig, 'domain' | 'authorizationServer' | 'issuer'>): string {
  if (cfg.issuer !== undefined) return cfg.issuer;
  const origin = originOf(cfg.domain);
  return cfg.authorizationServer === undefined ? origin : `${origin}/oauth2/${cfg.authorizationServer}`;
}

/** Okta has no roles claim of its own; `groups` needs the `groups` scope and a claim filter (https://developer.okta.com/docs/guides/customize-tokens-groups-claim/). */
export const oktaClaims: ClaimMapping = { ...genericClaims, roles: null };

/** Builds the Okta preset of the generic OIDC connector. */
export function oktaPreset(cfg: OktaConfig): OidcPreset {
  const issuer = oktaIssuer(cfg);
  return {
    issuer,
    scopes: ['openid', 'profile', 'email'],
    // Claims set to "Userinfo/id_token request" are left out of code-flow ID tokens, groups
    // included, so the profile is only complete with userinfo (https://help.okta.com/en-us/Content/topics/security/api-config-claims.htm).
    userinfo: true,
    logoutUrl(meta, input) {
      // `id_token_hint` is required by Okta's /logout (https://github.com/okta/okta-developer-docs/blob/HEAD/packages/@okta/vuepress-site/docs/reference/api/oidc/index.md, https://developer.okta.com/docs/guides/sign-users-out/nodeexpress/define-signout-callback/): without an ID
      // token there is no upstream logout to send the browser to, only the local one.
      if (!input.idToken) return undefined;
      const orgServer = !new URL(meta.issuer).pathname.includes('/oauth2/');
      const endpoint = meta.end_session_endpoint ?? `${trimSlash(meta.issuer)}${orgServer ? '/oauth2' : ''}/v1/logout`;
      return withParams(endpoint, { id_token_hint: input.idToken, post_logout_redirect_uri: input.postLogoutRedirectUri });
    },
  };
}

/** The `okta` connector type: org or custom authorization server, userinfo merged, logout with `id_token_hint`. */
export const oktaConnector = defineConnectorType({
  type: 'okta',
  schema: oktaSchema,
  claims: () => oktaClaims,
  validate: (cfg, at, ctx) => validateOidcBase(cfg, at, oktaIssuer(cfg), ctx.allowInsecureRequests),
  create: (cfg, ctx) => new OidcConnector(cfg, ctx, oktaPreset(cfg)),
});
