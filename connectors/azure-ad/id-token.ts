import { createRemoteJWKSet, customFetch, decodeJwt, jwtVerify } from 'jose';
import { FedgateError } from '../../lib/errors.js';
import type { IdTokenValidator } from '../oidc/own-validation.js';
import { tenantGuid } from './schema.js';

/** Placeholder in the multi-tenant discovery issuer (https://github.com/panva/wellknown/blob/HEAD/issuers/entra-common/entra-common.mjs, https://github.com/AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet/issues/1731). */
export const tenantPlaceholder = '{tenantid}';

export interface TenantTemplateOptions {
  /** The discovered issuer, e.g. `https://login.microsoftonline.com/{tenantid}/v2.0`. */
  template: string;
  /** Tenant ids allowed to sign in (`tid`). */
  allowedTenants: readonly string[];
  clientId: string;
  /** The one accepted ID token algorithm (Entra signs RS256 only). */
  alg: string;
  jwksUri: string | undefined;
  fetch: (url: string, options: RequestInit) => Promise<Response>;
  timeoutMs: number;
  now: () => number;
  allowInsecureRequests: boolean;
}

const invalid = (detail: string, cause?: unknown) =>
  new FedgateError('ID_TOKEN_INVALID', "The identity provider's ID token was rejected.", { detail, ...(cause !== undefined ? { cause } : {}) });

/**
 * Validates ID tokens against Entra's `{tenantid}` issuer template (tenant `common` or
 * `organizations`), the way prescribes (https://github.com/oauth2-proxy/oauth2-proxy/blob/HEAD/providers/ms_entra_id.go, https://github.com/nextauthjs/next-auth/blob/HEAD/packages/core/src/providers/microsoft-entra-id.ts): the token's `tid`
 * must be allow-listed, the expected issuer is derived from the template and that `tid` (never
 * copied from `iss`, so an `iss` naming another tenant than `tid` fails), then jose verifies the
 * signature with the discovered JWKS, the pinned algorithm, `aud`, `exp`/`iat` and the issuer.
 * openid-client's own template handling only runs against Microsoft's real host (https://github.com/panva/openid-client/blob/HEAD/src/index.ts), so
 * this one code path serves production and the localhost imitation alike.
 */
export function tenantTemplateValidator(opts: TenantTemplateOptions): IdTokenValidator {
  const at = opts.template.indexOf(tenantPlaceholder);
  const prefix = opts.template.slice(0, at);
  const suffix = opts.template.slice(at + tenantPlaceholder.length);
  const allowed = new Set(opts.allowedTenants.map((t) => t.toLowerCase()));
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  const tenantOf = (iss: string): string | undefined => {
    if (!iss.startsWith(prefix) || !iss.endsWith(suffix) || iss.length <= prefix.length + suffix.length) return undefined;
    const tid = iss.slice(prefix.length, iss.length - suffix.length);
    return tenantGuid.test(tid) ? tid : undefined;
  };

  const keys = () => {
    if (!opts.jwksUri) throw invalid('discovery has no jwks_uri');
    const url = new URL(opts.jwksUri);
    if (url.protocol !== 'https:' && !opts.allowInsecureRequests) throw invalid('jwks_uri is not https');
    jwks ??= createRemoteJWKSet(url, { timeoutDuration: opts.timeoutMs, [customFetch]: opts.fetch });
    return jwks;
  };

  return {
    acceptsCallbackIssuer(iss) {
      const tid = tenantOf(iss);
      return tid !== undefined && allowed.has(tid.toLowerCase());
    },
    async validate(idToken, checks) {
      let unverified: Record<string, unknown>;
      try {
        unverified = decodeJwt(idToken);
      } catch (err) {
        throw invalid('ID token is not a JWT', err);
      }
      const tid = unverified.tid;
      if (typeof tid !== 'string' || !tenantGuid.test(tid)) throw invalid('ID token has no tenant id (tid)');
      if (!allowed.has(tid.toLowerCase())) {
        throw new FedgateError('ID_TOKEN_INVALID', 'Accounts of this organization may not sign in here.', { status: 403, detail: 'tid not in allowedTenants' });
      }
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(idToken, keys(), {
          issuer: `${prefix}${tid}${suffix}`,
          audience: opts.clientId,
          algorithms: [opts.alg],
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
          currentDate: new Date(opts.now()),
          clockTolerance: 30,
        }));
      } catch (err) {
        if (err instanceof FedgateError) throw err;
        // jose messages name claims and algorithms, never token contents.
        throw invalid(`template issuer: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300), err);
      }
      if (payload.tid !== tid) throw invalid('tid changed between decode and verification');
      if (checks.nonce !== undefined && payload.nonce !== checks.nonce) throw invalid('nonce mismatch');
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== opts.clientId) throw invalid('azp mismatch');
      return { ...payload };
    },
  };
}
