import type * as oidc from 'openid-client';
import type { LogoutInput, UpstreamIdentity } from '../../lib/connector.js';
import type { IdTokenValidator } from './own-validation.js';

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
  /** Pull userinfo by default. */
  userinfo?: boolean;
  /** Extra authorization parameters derived per login (e.g. Azure `domain_hint`). */
  loginParams?(input: { loginHint?: string }): Record<string, string>;
  /** Vendor logout URL; default: discovered `end_session_endpoint` with `id_token_hint`. */
  logoutUrl?(meta: oidc.ServerMetadata, input: LogoutInput & { clientId: string }): URL | undefined;
  /** Adjusts the identity after validation (e.g. Entra group overage, tenant allow-list). */
  transformIdentity?(identity: UpstreamIdentity, tokens: PresetTokens): Promise<UpstreamIdentity>;
  /**
   * Client metadata merged over the connector's defaults, e.g. Entrust `userinfo_signed_response_alg`
   * (then a plain-JSON userinfo is refused). `client_id` and `client_secret` cannot be changed here.
   */
  clientMetadata?: Partial<Omit<oidc.ClientMetadata, 'client_id' | 'client_secret'>>;
  /**
   * With `discoveryUrl`: accepts a discovered `issuer` that differs from `issuer` (Entra with a
   * domain tenant or `consumers` names its tenant GUID). ID tokens are then
   * compared exactly with the discovered issuer. Default: only `issuer` itself.
   */
  acceptsDiscoveredIssuer?(discovered: string): boolean;
  /**
   * Takes ID token validation over from openid-client for this discovered metadata (an issuer
   * template such as Entra's `{tenantid}`), or returns undefined to keep the exact comparison.
   * See {@link IdTokenValidator}.
   */
  idTokenValidator?(meta: oidc.ServerMetadata): IdTokenValidator | undefined;
}

/** What `transformIdentity` gets besides the identity. */
export interface PresetTokens {
  /** The upstream access token; opaque unless the preset verifies it. */
  accessToken?: string;
  /**
   * The validated ID token claims as received, including the distributed-claim pointers
   * (`_claim_names`) that the identity's claims never carry (Entra group overage).
   */
  idTokenClaims?: Record<string, unknown>;
  /**
   * Verifies the upstream access token as a JWT signed with a key of the discovered `jwks_uri`
   * (asymmetric algorithms only, `iss` equal to the issuer, `exp`/`nbf` checked) and returns its
   * payload. Only for presets whose vendor documents JWT access tokens meant for the client
   * (Keycloak); audience, `azp` and `sub` checks are the preset's job.
   * @throws FedgateError `UPSTREAM_RESPONSE_INVALID` when there is no token or it fails verification.
   */
  verifyAccessToken?(): Promise<Record<string, unknown>>;
}
