import { defineConnectorType } from '../../lib/connector.js';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import { genericClaims, OidcConnector, validateOidcBase, type OidcPreset } from '../oidc/index.js';
import { originOf, withParams } from '../common/vendor-url.js';
import { cognitoSchema, type CognitoConfig } from './schema.js';

/** `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`; discovery and JWKS live there (https://github.com/paulmboyce/cdk-cf-cognito-site/blob/HEAD/notes.md, https://github.com/localstack/localstack/issues/12914). */
export function cognitoIssuer(cfg: Pick<CognitoConfig, 'region' | 'userPoolId' | 'issuer'>): string {
  return cfg.issuer ?? `https://cognito-idp.${cfg.region}.amazonaws.com/${cfg.userPoolId}`;
}

/**
 * Default mapping. Groups and the user name carry the `cognito:` prefix in the ID token; userInfo
 * says `username` instead (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html). `email_verified` is a boolean in the ID token but the
 * string "true"/"false" in userInfo, hence the boolean coercion (https://github.com/zitadel/oidc/pull/139, https://github.com/pomerium/pomerium/pull/792).
 * `cognito:roles` holds IAM role ARNs, not application roles, so nothing maps to `roles`.
 */
export const cognitoClaims: ClaimMapping = {
  ...genericClaims,
  username: { from: ['cognito:username', 'username'], type: 'string' },
  groups: { from: 'cognito:groups', type: 'string[]' },
  roles: null,
};

/** Builds the Cognito preset of the generic OIDC connector. */
export function cognitoPreset(cfg: CognitoConfig): OidcPreset {
  const hosted = originOf(cfg.domain);
  return {
    issuer: cognitoIssuer(cfg),
    scopes: ['openid', 'email', 'profile'],
    logoutUrl(_meta, input) {
      // Cognito's /logout is not RP-initiated logout even though discovery advertises it: it
      // ignores post_logout_redirect_uri/id_token_hint and fails without client_id; `logout_uri`
      // must be a registered sign-out URL (https://github.com/ITfoxtec/FoxIDs/issues/961, https://github.com/openid/AppAuth-Android/issues/697, https://github.com/streamlit/streamlit/issues/14601).
      return withParams(`${hosted}/logout`, { client_id: input.clientId, logout_uri: input.postLogoutRedirectUri });
    },
  };
}

/** The `cognito` connector type: issuer on cognito-idp, endpoints and logout on the hosted domain. */
export const cognitoConnector = defineConnectorType({
  type: 'cognito',
  schema: cognitoSchema,
  claims: () => cognitoClaims,
  validate: (cfg, at, ctx) => {
    const problems = validateOidcBase(cfg, at, cognitoIssuer(cfg), ctx.allowInsecureRequests);
    // The pool id starts with its region; a mismatch would only surface as a discovery 404.
    if (!cfg.userPoolId.startsWith(`${cfg.region}_`)) problems.push({ path: `${at}.userPoolId`, message: `must belong to region "${cfg.region}"` });
    if (originOf(cfg.domain).startsWith('http:') && !ctx.allowInsecureRequests) {
      problems.push({ path: `${at}.domain`, message: 'must be https (http needs allowInsecureRequests, development only)' });
    }
    return problems;
  },
  create: (cfg, ctx) => new OidcConnector(cfg, ctx, cognitoPreset(cfg)),
});
