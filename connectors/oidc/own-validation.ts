import * as oidc from 'openid-client';
import { FedgateError } from '../../lib/errors.js';

/**
 * ID token validation a preset takes over from openid-client, for upstreams whose issuer cannot be
 * compared exactly. openid-client only resolves Entra's `{tenantid}` issuer template against the
 * real `https://login.microsoftonline.com` origin and only through real discovery
 * (https://github.com/panva/openid-client/blob/HEAD/src/index.ts), so a preset that must accept a template validates the ID
 * token itself; production and a localhost imitation then take the same code path.
 */
export interface IdTokenValidator {
  /**
   * Whether an RFC 9207 `iss` callback parameter may come from this upstream. Checked before any
   * token request (mix-up defence); the accepted value must later equal the ID token's `iss`.
   */
  acceptsCallbackIssuer(iss: string): boolean;
  /**
   * Verifies the signature (pinned algorithm, discovered JWKS), `aud`/`azp`, `exp`/`iat`, `nonce`
   * (when given; absent on refresh) and the issuer, and returns the claims.
   * @throws FedgateError `ID_TOKEN_INVALID`
   */
  validate(idToken: string, checks: { nonce?: string }): Promise<Record<string, unknown>>;
}

/** What a private per-grant Configuration is built from (the connector's discovered state). */
export interface GrantSetup {
  meta: oidc.ServerMetadata;
  clientId: string;
  metadata: Partial<oidc.ClientMetadata>;
  clientAuth: oidc.ClientAuth;
  execute: ReadonlyArray<(config: oidc.Configuration) => void>;
  /** Seconds. */
  timeout: number;
  fetch: oidc.CustomFetch;
}

/** A grant's result plus the ID token that was taken out of the token response. */
export interface OwnGrantResult<T> {
  result: T;
  idToken: string | undefined;
}

/**
 * Runs one openid-client grant on a private Configuration whose fetch removes `id_token` from the
 * token response before openid-client sees it (its exact `iss` comparison would refuse a templated
 * issuer) and hands it back for the preset's {@link IdTokenValidator}. Client authentication, PKCE,
 * `state`, OAuth error responses and `token_type` stay openid-client's. A Configuration per grant
 * keeps concurrent logins from seeing each other's tokens.
 */
export async function grantWithOwnIdToken<T>(setup: GrantSetup, run: (config: oidc.Configuration) => Promise<T>): Promise<OwnGrantResult<T>> {
  let idToken: string | undefined;
  // The callback `iss` was checked by the validator and removed by the caller; without this flag
  // openid-client would insist on it.
  const { authorization_response_iss_parameter_supported: _omitted, ...meta } = setup.meta;
  void _omitted;
  const config = new oidc.Configuration(meta, setup.clientId, setup.metadata, setup.clientAuth);
  for (const fn of setup.execute) fn(config);
  config.timeout = setup.timeout;
  config[oidc.customFetch] = async (url, options) => {
    const res = await setup.fetch(url, options);
    if (res.status !== 200) return res;
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
    }
    if (body && typeof body === 'object' && !Array.isArray(body) && 'id_token' in body) {
      const { id_token: taken, ...rest } = body as Record<string, unknown>;
      if (typeof taken === 'string') idToken = taken;
      body = rest;
    }
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    return new Response(JSON.stringify(body), { status: res.status, statusText: res.statusText, headers });
  };
  const result = await run(config);
  return { result, idToken };
}

/**
 * Checks and removes the RFC 9207 `iss` callback parameter before any token request.
 * @throws FedgateError `CALLBACK_PARAMS_INVALID` when it names an issuer the validator refuses.
 */
export function takeCallbackIssuer(callbackUrl: URL, validator: IdTokenValidator): { url: URL; iss: string | undefined } {
  const url = new URL(callbackUrl);
  const iss = url.searchParams.get('iss') ?? undefined;
  if (iss !== undefined && !validator.acceptsCallbackIssuer(iss)) {
    throw new FedgateError('CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.', { detail: 'callback iss refused by the preset' });
  }
  url.searchParams.delete('iss');
  return { url, iss };
}
