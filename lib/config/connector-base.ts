import { z } from 'zod';
import { claimMappingSchema } from '../claims/schema.js';
import { withDefault } from './default.js';

/** Authorization parameters the gateway owns; a connector's `authorizationParams` may not set them. */
export const gatewayOwnedParams = [
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'request',
  'request_uri',
] as const;

/**
 * Problems of a configured URL beyond "is an http(s) URL": credentials (they would travel in every
 * request and log line), a query string or a fragment (issuers and endpoints have none: OpenID
 * Connect Discovery 1.0 §2, RFC 8414 §2; the gateway appends its own parameters).
 */
function urlValueProblems(value: string, allowQuery = false): string[] {
  const url = URL.parse(value);
  if (url === null) return [];
  const problems: string[] = [];
  if (url.username || url.password) problems.push('must not contain credentials (user:password@)');
  if (!allowQuery && value.includes('?')) problems.push('must not contain a query string');
  if (value.includes('#')) problems.push('must not contain a fragment');
  return problems;
}

/**
 * An http(s) URL config value: no surrounding whitespace (a copy-paste slip the URL parser would
 * silently strip), no credentials, query or fragment.
 */
const httpUrl = z
  .string()
  // Before the URL check, which passes the value on trimmed.
  .refine((value) => value === value.trim(), 'must not have surrounding whitespace')
  .url({ protocol: /^https?$/ })
  .superRefine((value, ctx) => {
    for (const message of urlValueProblems(value)) ctx.addIssue({ code: 'custom', message, input: value });
  });

/**
 * Like {@link httpUrl}, but a query string is part of the address: a document URL that the
 * vendor issues with one (Entra's SAML "App Federation Metadata Url" carries `?appid=`).
 */
const httpDocumentUrl = z
  .string()
  .refine((value) => value === value.trim(), 'must not have surrounding whitespace')
  .url({ protocol: /^https?$/ })
  .superRefine((value, ctx) => {
    for (const message of urlValueProblems(value, true)) ctx.addIssue({ code: 'custom', message, input: value });
  });

export const idTokenAlgs = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'] as const;

/**
 * The upstream ID token algorithm when `idTokenSigningAlg` is absent. Neither a zod nor a JSON
 * Schema default: a type without ID tokens (GitHub) refuses the key, so an editor must not fill it
 * in; the connectors apply it where they verify.
 */
export const defaultIdTokenSigningAlg = 'RS256' satisfies (typeof idTokenAlgs)[number];

/**
 * Keys every connector type accepts. Vendor connectors extend this with `.extend({...})`.
 * Key names are forever: rename nothing.
 */
export const connectorBaseShape = {
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'must be 1-63 letters, digits, "-" or "_"')
    .describe('Stable connector id; part of the callback path and of local subjects.'),
  name: z.string().min(1).max(120).optional().describe('Display name on the chooser page.'),
  clientId: z.string().min(1).max(512).describe('Client id registered at the upstream.'),
  clientSecret: z.string().min(1).max(4096).optional().describe('Client secret; use "${env:NAME}".'),
  clientAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .optional()
    .describe('Token endpoint authentication. Default: client_secret_basic with a secret, none without.'),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'invalid scope token'))
    .min(1)
    .max(64)
    .optional()
    .describe('Scopes requested upstream.'),
  userinfo: z.boolean().optional().describe('Pull the upstream userinfo after the code exchange and overlay its claims.'),
  claims: claimMappingSchema.optional(),
  authorizationParams: withDefault(
    z.record(z.string().min(1).max(64), z.string().max(2048)),
    {},
    'Static extra authorization parameters (e.g. Auth0 `audience`).',
  ),
  logout: withDefault(z.enum(['local', 'upstream']), 'local', '`upstream` continues logout at the provider.'),
  domains: withDefault(
    z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be a domain name')).max(256),
    [],
    'E-mail domains routed to this connector by `login_hint` (home-realm discovery).',
  ),
  idTokenSigningAlg: z
    .enum(idTokenAlgs)
    .optional()
    .describe(`The only accepted upstream ID token algorithm. Default ${defaultIdTokenSigningAlg}. HS* needs a clientSecret.`),
  idTokenMaxAge: withDefault(
    z.number().int().min(30).max(86_400),
    300,
    "Seconds an upstream ID token's `iat` may lie in the past at login (plus 30 s clock tolerance).",
  ),
  refresh: withDefault(z.boolean(), true, 'Refresh upstream tokens when they near expiry.'),
  exposeUpstreamTokens: withDefault(z.boolean(), false, 'Expose the upstream tokens on `req.auth.upstream`.'),
} as const;

export const connectorBaseSchema = z.strictObject({ type: z.string(), ...connectorBaseShape });
export type ConnectorBaseConfig = z.infer<typeof connectorBaseSchema>;

export { httpUrl, httpDocumentUrl };
