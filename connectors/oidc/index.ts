import { defineConnectorType } from '../../lib/connector.js';
import { defaultIdTokenSigningAlg, gatewayOwnedParams } from '../../lib/config/connector-base.js';
import type { ConfigProblem } from '../../lib/errors.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { OidcConnector, type OidcConnectorConfig } from './connector.js';
import { oidcSchema } from './schema.js';

/** Default mapping of the generic connector into the normalized profile. */
export const genericClaims: ClaimMapping = {
  sub: 'sub',
  email: 'email',
  email_verified: { from: 'email_verified', type: 'boolean', default: false },
  name: 'name',
  given_name: 'given_name',
  family_name: 'family_name',
  picture: 'picture',
  username: 'preferred_username',
  groups: { from: 'groups', type: 'string[]' },
  roles: { from: 'roles', type: 'string[]' },
};

/** Config-time checks every OIDC-based connector shares. */
export function validateOidcBase(cfg: OidcConnectorConfig, at: string, issuer: string | undefined, allowInsecureRequests: boolean): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const alg = cfg.idTokenSigningAlg ?? defaultIdTokenSigningAlg;
  if (alg.startsWith('HS') && !cfg.clientSecret)
    problems.push({ path: `${at}.idTokenSigningAlg`, message: `${alg} needs a clientSecret (public clients cannot use HMAC)` });
  if (cfg.clientAuthMethod && cfg.clientAuthMethod !== 'none' && !cfg.clientSecret)
    problems.push({ path: `${at}.clientSecret`, message: `required for ${cfg.clientAuthMethod}` });
  if (cfg.clientAuthMethod === 'none' && cfg.clientSecret)
    problems.push({ path: `${at}.clientSecret`, message: 'must not be set with clientAuthMethod "none"' });
  // OpenID Connect Core §3.1.2.1: without "openid" the request is plain OAuth and no ID token comes back.
  if (cfg.scopes && !cfg.scopes.includes('openid')) problems.push({ path: `${at}.scopes`, message: 'must include "openid" (OpenID Connect Core §3.1.2.1)' });
  if (issuer?.startsWith('http:') && !allowInsecureRequests)
    problems.push({ path: `${at}.issuer`, message: 'must be https (http needs allowInsecureRequests, development only)' });
  for (const k of Object.keys(cfg.authorizationParams ?? {})) {
    if ((gatewayOwnedParams as readonly string[]).includes(k))
      problems.push({ path: `${at}.authorizationParams.${k}`, message: 'is set by the gateway and cannot be overridden' });
  }
  return problems;
}

/** The generic `oidc` connector type. */
export const oidcConnector = defineConnectorType({
  type: 'oidc',
  schema: oidcSchema,
  claims: () => genericClaims,
  validate: (cfg, at, ctx) => validateOidcBase(cfg, at, cfg.issuer, ctx.allowInsecureRequests),
  create: (cfg, ctx) => new OidcConnector(cfg, ctx, { issuer: cfg.issuer, scopes: ['openid', 'profile', 'email'] }),
});

export { OidcConnector } from './connector.js';
export type { OidcPreset, PresetTokens } from './preset.js';
