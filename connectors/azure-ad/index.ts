import { defaultIdTokenSigningAlg } from '../../lib/config/connector-base.js';
import { defineConnectorType, type ConnectorContext, type UpstreamIdentity } from '../../lib/connector.js';
import type { ConfigProblem } from '../../lib/errors.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { FedgateError } from '../../lib/errors.js';
import { OidcConnector } from '../oidc/connector.js';
import { genericClaims, validateOidcBase } from '../oidc/index.js';
import type { OidcPreset, PresetTokens } from '../oidc/preset.js';
import { limitedFetch } from '../common/limited-fetch.js';
import { trimSlash, withParams } from '../common/vendor-url.js';
import { fetchGraphGroups, type GraphGroupsInput } from './graph.js';
import { tenantPlaceholder, tenantTemplateValidator } from './id-token.js';
import { azureAdSchema, multiTenantValues, tenantGuid, type AzureAdConfig } from './schema.js';
import { isRecord } from '../../lib/values.js';

export const defaultAuthority = 'https://login.microsoftonline.com';
export const defaultGraphBaseUrl = 'https://graph.microsoft.com';

/**
 * Default mapping (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference): `oid` is the stable user id (`sub` is pairwise
 * per app) and `tid` is kept; Entra sends no `email_verified` and its `email` is "not guaranteed to
 * be correct", so `email_verified` is always false (the "nOAuth" takeover, (https://www.descope.com/blog/post/noauth)).
 */
export const azureAdClaims: ClaimMapping = {
  ...genericClaims,
  sub: { from: 'oid', required: true },
  tid: 'tid',
  email_verified: { value: false },
  picture: null,
};

/** Derived URLs of one azure-ad connector. */
export function azureAdUrls(cfg: Pick<AzureAdConfig, 'tenant' | 'authority' | 'issuer'>) {
  const authority = trimSlash(cfg.authority ?? defaultAuthority);
  const multi = (multiTenantValues as readonly string[]).includes(cfg.tenant.toLowerCase());
  return {
    authority,
    multi,
    // v2 issuer `{authority}/{tenant}/v2.0`; common/organizations discover the `{tenantid}` template.
    issuer: cfg.issuer ?? `${authority}/${multi ? tenantPlaceholder : cfg.tenant}/v2.0`,
    discoveryUrl: `${authority}/${cfg.tenant}/v2.0/.well-known/openid-configuration`,
    // (https://github.com/MicrosoftDocs/entra-docs/blob/HEAD/docs/identity-platform/v2-protocols-oidc.md): logout is `{authority}/{tenant}/oauth2/v2.0/logout?post_logout_redirect_uri`.
    logoutUrl: `${authority}/${cfg.tenant}/oauth2/v2.0/logout`,
  };
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The OidcPreset for Entra ID; see docs/connectors.md "azure-ad". */
export function azureAdPreset(cfg: AzureAdConfig, ctx: ConnectorContext): OidcPreset {
  const urls = azureAdUrls(cfg);
  const allowed = new Set((cfg.allowedTenants ?? []).map((t) => t.toLowerCase()));
  const tenantIssuer = new RegExp(`^${escapeRegExp(urls.authority)}/([0-9a-fA-F-]{36})/v2\\.0$`);
  const fetchImpl = limitedFetch(ctx.fetch);
  const timeoutMs = ctx.httpTimeout * 1000;
  return {
    issuer: urls.issuer,
    discoveryUrl: urls.discoveryUrl,
    // `openid profile email offline_access` (`profile` brings `oid`).
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    acceptsDiscoveredIssuer(discovered) {
      // A domain tenant (or `consumers`) discovers its GUID issuer, which config cannot know.
      // The template and an explicit `issuer` are compared exactly.
      if (cfg.issuer !== undefined || urls.multi) return false;
      const tid = tenantIssuer.exec(discovered)?.[1];
      if (tid === undefined || !tenantGuid.test(tid)) return false;
      if (tenantGuid.test(cfg.tenant) && tid.toLowerCase() !== cfg.tenant.toLowerCase()) return false;
      return allowed.size === 0 || allowed.has(tid.toLowerCase());
    },
    idTokenValidator(meta) {
      if (!meta.issuer.includes(tenantPlaceholder)) return undefined;
      return tenantTemplateValidator({
        template: meta.issuer,
        allowedTenants: cfg.allowedTenants ?? [],
        clientId: cfg.clientId,
        alg: cfg.idTokenSigningAlg ?? defaultIdTokenSigningAlg,
        jwksUri: meta.jwks_uri,
        fetch: fetchImpl,
        timeoutMs,
        now: ctx.now,
        allowInsecureRequests: ctx.allowInsecureRequests,
      });
    },
    loginParams({ loginHint }): Record<string, string> {
      // (https://github.com/MicrosoftDocs/entra-docs/blob/HEAD/docs/identity-platform/v2-protocols-oidc.md): `domain_hint` skips Microsoft's account picker for the user's organization.
      const at = loginHint?.lastIndexOf('@') ?? -1;
      return loginHint !== undefined && at > 0 && at < loginHint.length - 1 ? { domain_hint: loginHint.slice(at + 1).toLowerCase() } : {};
    },
    logoutUrl(_meta, input) {
      return withParams(urls.logoutUrl, { post_logout_redirect_uri: input.postLogoutRedirectUri });
    },
    transformIdentity: (identity: UpstreamIdentity, tokens: PresetTokens) => resolveGroupOverage(cfg, ctx, identity, tokens, { fetch: fetchImpl, timeoutMs }),
  };
}

/**
 * Group overage: with too many groups the ID token says "too many groups" (`_claim_names.groups`)
 * instead of listing them; `groupsOverage: "graph"` asks Microsoft Graph, otherwise groups are omitted.
 */
async function resolveGroupOverage(
  cfg: AzureAdConfig,
  ctx: ConnectorContext,
  identity: UpstreamIdentity,
  tokens: PresetTokens,
  http: Pick<GraphGroupsInput, 'fetch' | 'timeoutMs'>,
): Promise<UpstreamIdentity> {
  const names = tokens.idTokenClaims?._claim_names;
  if (!isRecord(names) || typeof names.groups !== 'string') return identity;
  if (cfg.groupsOverage !== 'graph') {
    ctx.logger.warn({ event: 'connector.groups_overage', connector: cfg.id }, 'Group overage: groups omitted (set groupsOverage "graph" to resolve them)');
    return identity;
  }
  if (!tokens.accessToken) throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'Microsoft sent no access token to resolve the groups with.');
  const groups = await fetchGraphGroups({
    graphBaseUrl: cfg.graphBaseUrl ?? defaultGraphBaseUrl,
    accessToken: tokens.accessToken,
    ...http,
  });
  return { ...identity, claims: { ...identity.claims, groups } };
}

function validateAzureAd(cfg: AzureAdConfig, at: string, ctx: { allowInsecureRequests: boolean }): ConfigProblem[] {
  const urls = azureAdUrls(cfg);
  const problems = validateOidcBase(cfg, at, urls.issuer, ctx.allowInsecureRequests);
  if (urls.authority.startsWith('http:') && !ctx.allowInsecureRequests)
    problems.push({ path: `${at}.authority`, message: 'must be https (http needs allowInsecureRequests, development only)' });
  if (cfg.graphBaseUrl?.startsWith('http:') && !ctx.allowInsecureRequests)
    problems.push({ path: `${at}.graphBaseUrl`, message: 'must be https (http needs allowInsecureRequests, development only)' });
  if ((urls.multi || urls.issuer.includes(tenantPlaceholder)) && !cfg.allowedTenants) {
    problems.push({ path: `${at}.allowedTenants`, message: `required with tenant "${cfg.tenant}": list the tenant ids (tid) allowed to sign in` });
  }
  if (tenantGuid.test(cfg.tenant) && cfg.allowedTenants && !cfg.allowedTenants.some((t) => t.toLowerCase() === cfg.tenant.toLowerCase())) {
    problems.push({ path: `${at}.allowedTenants`, message: 'must include the configured tenant' });
  }
  return problems;
}

/** The `azure-ad` connector type (Microsoft Entra ID, v2 endpoint). */
export const azureAdConnector = defineConnectorType({
  type: 'azure-ad',
  schema: azureAdSchema,
  claims: () => azureAdClaims,
  validate: validateAzureAd,
  create: (cfg, ctx) => new OidcConnector(cfg, ctx, azureAdPreset(cfg, ctx)),
});
