import { defineConnectorType } from '../../lib/connector.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { genericClaims, OidcConnector, validateOidcBase, type OidcPreset } from '../oidc/index.js';
import { originOf, withParams } from '../common/vendor-url.js';
import { entrustSchema, type EntrustConfig } from './schema.js';

/** `https://{tenant}.{region}.trustedauth.com/api/oidc`; discovery under it (https://github.com/curityio/entrust-idaas, https://github.com/guitaoliu/idaas-auth-js). */
export function entrustIssuer(cfg: Pick<EntrustConfig, 'domain' | 'issuer'>): string {
  return cfg.issuer ?? `${originOf(cfg.domain)}/api/oidc`;
}

/**
 * Default mapping. Group membership only exists as an admin-defined custom claim, so its name is
 * configurable (https://mobile2.managed.entrust.com/pkihub/Entrust-Identity-as-a-Service-(IDaaS).250347375.html); no picture claim is documented.
 */
export function entrustClaims(cfg: Pick<EntrustConfig, 'groupsClaim' | 'rolesClaim'>): ClaimMapping {
  return {
    ...genericClaims,
    picture: null,
    groups: { from: cfg.groupsClaim ?? 'groups', type: 'string[]' },
    roles: cfg.rolesClaim === undefined ? null : { from: cfg.rolesClaim, type: 'string[]' },
  };
}

/** Builds the Entrust IDaaS preset of the generic OIDC connector. */
export function entrustPreset(cfg: EntrustConfig): OidcPreset {
  const scopes = cfg.scopes ?? ['openid', 'profile', 'email'];
  const wantsOffline = scopes.includes('offline_access');
  return {
    issuer: entrustIssuer(cfg),
    scopes: ['openid', 'profile', 'email'],
    // Profile and custom claims are released at userinfo, which an application may sign
    // ("User Info Signing Algorithm") (https://mobile2.managed.entrust.com/pkihub/Entrust-Identity-as-a-Service-(IDaaS).250347375.html, https://github.com/guitaoliu/idaas-auth-js). A signed userinfo is
    // verified against the issuer's JWKS; pinning the algorithm also refuses a plain-JSON one.
    userinfo: true,
    ...(cfg.userinfoSignedResponseAlg ? { clientMetadata: { userinfo_signed_response_alg: cfg.userinfoSignedResponseAlg } } : {}),
    // Entrust issues a refresh token for offline_access with prompt=consent, which its SDK always
    // adds (https://github.com/guitaoliu/idaas-auth-js/blob/HEAD/src/utils/url.ts).
    ...(wantsOffline
      ? {
          loginParams: () => {
            const prompt = new Set((cfg.authorizationParams?.prompt ?? '').split(' ').filter(Boolean)).add('consent');
            return { prompt: [...prompt].join(' ') };
          },
        }
      : {}),
    logoutUrl(meta, input) {
      // end_session_endpoint with client_id and a registered post_logout_redirect_uri (https://github.com/guitaoliu/idaas-auth-js/blob/HEAD/src/OidcClient.ts)[hytrust].
      if (!meta.end_session_endpoint) return undefined;
      return withParams(meta.end_session_endpoint, { client_id: input.clientId, post_logout_redirect_uri: input.postLogoutRedirectUri });
    },
  };
}

/** The `entrust` connector type: `/api/oidc` issuer, signed userinfo accepted, configurable groups claim. */
export const entrustConnector = defineConnectorType({
  type: 'entrust',
  schema: entrustSchema,
  claims: (cfg) => entrustClaims(cfg),
  validate: (cfg, at, ctx) => validateOidcBase(cfg, at, entrustIssuer(cfg), ctx.allowInsecureRequests),
  create: (cfg, ctx) => new OidcConnector(cfg, ctx, entrustPreset(cfg)),
});
