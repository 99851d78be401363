import { defineConnectorType, type ConnectorContext } from '../../lib/connector.js';
import type { ConfigProblem } from '../../lib/errors.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { OidcConnector } from '../oidc/connector.js';
import { validateOidcBase } from '../oidc/index.js';
import type { OidcPreset } from '../oidc/preset.js';
import { trimSlash, withParams } from '../common/vendor-url.js';
import { AzureB2cConnector } from './connector.js';
import { azureB2cSchema, type AzureB2cConfig } from './schema.js';

/**
 * Default mapping (https://learn.microsoft.com/azure/active-directory-b2c/tokens-overview): local accounts carry `emails` (an array),
 * mapped from `emails[0]`, else `email` (https://github.com/nextauthjs/next-auth/blob/HEAD/packages/core/src/providers/azure-ad-b2c.ts); B2C proves nothing about it, so `email_verified`
 * is false unless the user's mapping says otherwise.
 */
export const azureB2cClaims: ClaimMapping = {
  sub: 'sub',
  email: { from: ['emails.0', 'email'] },
  email_verified: { value: false },
  name: 'name',
  given_name: 'given_name',
  family_name: 'family_name',
};

/** Derived URLs of one azure-b2c connector for `policy`. */
export function azureB2cUrls(cfg: Pick<AzureB2cConfig, 'tenant' | 'tenantId' | 'authority' | 'issuer'>, policy: string) {
  const authority = trimSlash(cfg.authority ?? `https://${cfg.tenant}.b2clogin.com`);
  return {
    authority,
    // (https://github.com/coreos/go-oidc/issues/121, https://github.com/AzureAD/microsoft-identity-web/wiki/Azure-AD-B2C-issuer-claim-support): `https://{tenant}.b2clogin.com/{tenantGuid}/v2.0/`, trailing slash, no policy.
    issuer: cfg.issuer ?? `${authority}/${cfg.tenantId}/v2.0/`,
    // (https://github.com/panva/openid-client/issues/718, https://github.com/MicrosoftDocs/azure-docs/issues/16505): discovery per policy, never at {issuer}/.well-known.
    discoveryUrl: `${authority}/${cfg.tenant}.onmicrosoft.com/${policy}/v2.0/.well-known/openid-configuration`,
  };
}

function preset(cfg: AzureB2cConfig, policy: string): OidcPreset {
  const urls = azureB2cUrls(cfg, policy);
  return {
    issuer: urls.issuer,
    discoveryUrl: urls.discoveryUrl,
    // `openid offline_access` (+ the client id as a scope when an access token is wanted).
    scopes: ['openid', 'offline_access'],
    // (https://docs.azure.cn/en-us/active-directory-b2c/userinfo-endpoint): user flows have no userinfo endpoint.
    userinfo: false,
    logoutUrl(meta, input) {
      // `{end_session_endpoint}?post_logout_redirect_uri[&id_token_hint]`.
      if (!meta.end_session_endpoint) return undefined;
      return withParams(meta.end_session_endpoint, { post_logout_redirect_uri: input.postLogoutRedirectUri, id_token_hint: input.idToken });
    },
  };
}

function validateAzureB2c(cfg: AzureB2cConfig, at: string, ctx: { allowInsecureRequests: boolean }): ConfigProblem[] {
  const urls = azureB2cUrls(cfg, cfg.policy);
  const problems = validateOidcBase(cfg, at, urls.issuer, ctx.allowInsecureRequests);
  if (urls.authority.startsWith('http:') && !ctx.allowInsecureRequests)
    problems.push({ path: `${at}.authority`, message: 'must be https (http needs allowInsecureRequests, development only)' });
  if (cfg.userinfo) problems.push({ path: `${at}.userinfo`, message: 'B2C user flows have no userinfo endpoint' });
  if (cfg.passwordResetPolicy !== undefined && cfg.passwordResetPolicy.toLowerCase() === cfg.policy.toLowerCase()) {
    problems.push({ path: `${at}.passwordResetPolicy`, message: 'must differ from policy' });
  }
  return problems;
}

/** The `azure-b2c` connector type. */
export const azureB2cConnector = defineConnectorType({
  type: 'azure-b2c',
  schema: azureB2cSchema,
  claims: () => azureB2cClaims,
  validate: validateAzureB2c,
  create: (cfg: AzureB2cConfig, ctx: ConnectorContext) =>
    new AzureB2cConnector(
      new OidcConnector(cfg, ctx, preset(cfg, cfg.policy)),
      cfg.passwordResetPolicy ? new OidcConnector(cfg, ctx, preset(cfg, cfg.passwordResetPolicy)) : undefined,
    ),
});
