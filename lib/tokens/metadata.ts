import type { JWK } from 'jose';
import type { KeySet } from './keys.js';

export interface DiscoveryDocumentInput {
  /** `tokens.issuer`. */
  issuer: string;
  /** Absolute URL of the JWKS route: baseUrl + basePath + `/jwks.json`. */
  jwksUri: string;
  /** Absolute URL of the userinfo route: baseUrl + basePath + `/userinfo`. */
  userinfoEndpoint: string;
  keySet: KeySet;
  /** Names of the configured local scopes (`tokens.scopes`); `openid` is always added. */
  scopes?: readonly string[];
  /** Local claim names the gateway may issue (from the connectors' mappings). */
  claims?: readonly string[];
  /**
   * Further metadata, e.g. the broker-mode endpoints. It cannot replace `issuer`, `jwks_uri` or
   * the signing algorithms, which are facts of this gateway.
   */
  extra?: Record<string, unknown>;
}

// Claims present in every local token, whatever the mapping.
const protocolClaims = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'sid'];

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/**
 * Builds the metadata of the local issuer, served at `<basePath>/.well-known/openid-configuration`
 * (OpenID Connect Discovery 1.0 §3, RFC 8414 §2). Without broker mode there is no authorization or
 * token endpoint, so those members (and `token_endpoint_auth_methods_supported`) are left out
 * rather than advertised falsely; broker mode adds them through `extra`.
 */
export function buildDiscoveryDocument(input: DiscoveryDocumentInput): Record<string, unknown> {
  const algs = sortedUnique([...input.keySet.verifying.values()].map((k) => k.alg));
  const scopes = sortedUnique(input.scopes ?? []).filter((s) => s !== 'openid');
  return {
    ...input.extra,
    issuer: input.issuer,
    jwks_uri: input.jwksUri,
    userinfo_endpoint: input.userinfoEndpoint,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
    scopes_supported: ['openid', ...scopes],
    claims_supported: sortedUnique([...protocolClaims, ...(input.claims ?? [])]),
  };
}

/**
 * The public JWKS (RFC 7517 §5) to serve at `<basePath>/jwks.json`: every local key, public
 * members only, each with `kid`, `alg` and `use: "sig"`. A fresh copy, so a caller cannot alter
 * the key set.
 */
export function publicJwks(keySet: KeySet): { keys: JWK[] } {
  return { keys: keySet.publicJwks.keys.map((k) => ({ ...k })) };
}
