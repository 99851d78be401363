import type * as oidc from 'openid-client';
import type { ClaimMapping } from '../../lib/claims/schema.js';
import type { LogoutInput, UpstreamIdentity } from '../../lib/connector.js';

/**
 * What a vendor preset may change in the generic OIDC connector. Presets override only what
 * differs (the oauth2-proxy model); everything else is the strict generic behaviour.
 */
export interface OidcPreset {
  /** The issuer identifier the ID token must carry (unless `expectedIssuer` is given). */
  issuer: string;
  /** Discovery document URL when it is not `{issuer}/.well-known/openid-configuration` (Azure B2C). */
  discoveryUrl?: string;
  /** Default scopes when the user gives none. */
  scopes: readonly string[];
  /** The preset's default claim mapping (the user's `claims` overlay it). */
  claims: ClaimMapping;
  /** Pull userinfo by default. */
  userinfo?: boolean;
  /** Extra authorization parameters derived per login (e.g. Azure `domain_hint`). */
  loginParams?(input: { loginHint?: string }): Record<string, string>;
  /** Vendor logout URL; default: discovered `end_session_endpoint` with `id_token_hint`. */
  logoutUrl?(meta: oidc.ServerMetadata, input: LogoutInput & { clientId: string }): URL | undefined;
  /** Adjusts the identity after validation (e.g. Entra group overage, tenant allow-list). */
  transformIdentity?(identity: UpstreamIdentity, tokens: { accessToken?: string }): Promise<UpstreamIdentity>;
}
