import { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import { reservedClaims } from '../tokens/mint.js';
import { withDefault } from './default.js';

/**
 * The `op` block: broker mode, where fedgate is also an OpenID Provider for other client apps.
 * The schema checks each client on its own; {@link validateOpConfig} checks what depends on the
 * rest of the configuration (issuer, allowInsecureRequests, local scopes).
 */

const scopeToken = z
  .string()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'invalid scope token')
  .max(128);
const claimName = z.string().min(1).max(128);
const seconds = z.number().int().positive().max(31_536_000);
const uri = z.string().min(1).max(2048);

/** Standard scopes whose claims OpenID Connect Core §5.4 fixes; `op.scopes` cannot redefine them. */
export const standardScopes = ['openid', 'offline_access', 'profile', 'email'] as const;

/** The gateway's own client id in local tokens; a broker client may not take it. */
export const gatewayClientId = 'fedgate';

export const opClientSchema = z.strictObject({
  client_id: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 URL-safe characters'),
  client_secret: z
    .string()
    .min(32, 'must be at least 32 characters')
    .max(512)
    .optional()
    .describe('Confidential clients only; use "${env:NAME}". Omit for a public client (PKCE S256 is then required).'),
  client_name: z.string().min(1).max(120).optional().describe('Shown on the consent and consents pages. Default the client_id.'),
  redirect_uris: z.array(uri).min(1).max(32).describe('Exact redirect URIs; no wildcard, no prefix matching.'),
  post_logout_redirect_uris: z.array(uri).max(32).optional().describe('Exact URIs allowed after RP-initiated logout.'),
  trusted: withDefault(z.boolean(), false, 'First-party client: no consent page.'),
  scopes: z.array(scopeToken).max(64).optional().describe('Scopes the client may request. Default ["openid", "profile", "email", "offline_access"].'),
  token_endpoint_auth_method: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .optional()
    .describe('Default client_secret_basic with a secret, none without.'),
  backchannel_logout_uri: uri.optional().describe("Receives an OIDC Back-Channel Logout token whenever the user's fedgate session ends."),
  audience: z.string().min(1).max(2048).optional().describe("`aud` of this client's access tokens. Default tokens.audience."),
});

export const opConfigSchema = z
  .strictObject({
    enabled: z.boolean().describe('Turns broker mode on: fedgate becomes an OpenID Provider for the listed clients.'),
    clients: withDefault(z.array(opClientSchema).max(256), [], 'The client apps.'),
    scopes: withDefault(
      z.record(scopeToken, z.array(claimName).max(64)),
      {},
      'Custom scopes and the local claims each one releases, e.g. { "groups": ["groups", "roles"] }.',
    ),
    ttl: z
      .strictObject({
        accessToken: seconds.optional().describe('Client access tokens, seconds. Default tokens.accessTokenTtl.'),
        idToken: seconds.optional().describe('Client ID tokens, seconds. Default tokens.idTokenTtl.'),
        authorizationCode: withDefault(z.number().int().positive().max(600), 60, 'Authorization codes, seconds.'),
        refreshToken: withDefault(seconds, 14 * 86_400, 'Refresh tokens, seconds (14 days).'),
        interaction: seconds.optional().describe('A pending login or consent, seconds. Default session.transactionTtl.'),
        grant: withDefault(seconds, 90 * 86_400, 'How long a consent is remembered, seconds (90 days).'),
      })
      .prefault({}),
    sessionCheckInterval: withDefault(
      z.number().int().positive().max(3600),
      30,
      'Seconds between checks for expired fedgate sessions whose clients await a back-channel logout.',
    ),
  })
  .describe('Broker mode: fedgate as an OpenID Provider for other client apps.');

export type OpConfig = z.output<typeof opConfigSchema>;
export type OpClientConfig = z.output<typeof opClientSchema>;

/** What the rest of the configuration contributes to the checks of the `op` block. */
export interface OpCheckContext {
  baseUrl: string;
  basePath: string;
  issuer: string;
  allowInsecureRequests: boolean;
  /** Names of the local scopes (`tokens.scopes`). */
  localScopes: readonly string[];
  /** `tokens.audience`: the default resource indicator of client access tokens. */
  audience: string;
}

function isResourceIndicator(value: string): boolean {
  return URL.canParse(value) && !value.includes('#');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

/** An absolute URL that a browser may be sent to: https (http only on loopback or when allowed), no fragment, credentials or surrounding whitespace. */
function checkUrl(value: string, at: string, allowInsecure: boolean, problems: ConfigProblem[]): void {
  // The URL parser strips it, but redirect URIs are compared exactly: such an entry never matches.
  if (value !== value.trim()) problems.push({ path: at, message: 'must not have surrounding whitespace' });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push({ path: at, message: 'must be an absolute URL' });
    return;
  }
  if (value.includes('#')) problems.push({ path: at, message: 'must not contain a fragment' });
  if (url.username || url.password) problems.push({ path: at, message: 'must not contain credentials' });
  if (url.protocol === 'http:') {
    if (!allowInsecure && !isLoopback(url.hostname))
      problems.push({ path: at, message: 'must be https (http only for loopback, or with allowInsecureRequests)' });
  } else if (url.protocol !== 'https:') {
    problems.push({ path: at, message: 'must be an http(s) URL' });
  }
}

/**
 * Checks the `op` block against the rest of the configuration. Messages name paths, never
 * secret values. Everything here is refused at startup rather than discovered by a client.
 */
export function validateOpConfig(op: OpConfig, c: OpCheckContext): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!op.enabled) return problems;
  const add = (path: string, message: string) => problems.push({ path, message });
  const expectedIssuer = `${c.baseUrl}${c.basePath}`;
  if (c.issuer !== expectedIssuer) {
    add('tokens.issuer', `must be ${expectedIssuer} (baseUrl + basePath) in broker mode, where clients discover the provider at the issuer`);
  }
  if (!isResourceIndicator(c.audience))
    add('tokens.audience', 'must be an absolute URI without fragment in broker mode (it is the resource indicator of client access tokens, RFC 8707)');
  const custom = op.scopes;
  for (const [scope, claims] of Object.entries(custom)) {
    const at = `op.scopes.${scope}`;
    if ((standardScopes as readonly string[]).includes(scope)) add(at, 'standard scopes cannot be redefined');
    if (c.localScopes.includes(scope)) add(at, 'clashes with a local scope of tokens.scopes (those are access-token scopes)');
    claims.forEach((name, i) => {
      if (reservedClaims.has(name) || name === '__proto__') add(`${at}[${i}]`, 'is a reserved claim and cannot be released by a scope');
    });
  }
  const known = new Set<string>([...standardScopes, ...Object.keys(custom), ...c.localScopes]);
  const ids = new Set<string>();
  op.clients.forEach((client, i) => {
    const at = `op.clients[${i}]`;
    if (ids.has(client.client_id)) add(`${at}.client_id`, 'duplicate client_id');
    ids.add(client.client_id);
    if (client.client_id === gatewayClientId) add(`${at}.client_id`, `"${gatewayClientId}" is the gateway's own client id`);
    const method = client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none');
    if (method === 'none' && client.client_secret !== undefined)
      add(`${at}.client_secret`, 'a public client (token_endpoint_auth_method "none") must not have a secret');
    if (method !== 'none' && client.client_secret === undefined) add(`${at}.client_secret`, `required for token_endpoint_auth_method "${method}"`);
    const seen = new Set<string>();
    client.redirect_uris.forEach((u, j) => {
      checkUrl(u, `${at}.redirect_uris[${j}]`, c.allowInsecureRequests, problems);
      if (seen.has(u)) add(`${at}.redirect_uris[${j}]`, 'duplicate');
      seen.add(u);
    });
    (client.post_logout_redirect_uris ?? []).forEach((u, j) => {
      checkUrl(u, `${at}.post_logout_redirect_uris[${j}]`, c.allowInsecureRequests, problems);
    });
    if (client.backchannel_logout_uri !== undefined) checkUrl(client.backchannel_logout_uri, `${at}.backchannel_logout_uri`, c.allowInsecureRequests, problems);
    (client.scopes ?? []).forEach((s, j) => {
      if (!known.has(s)) add(`${at}.scopes[${j}]`, 'unknown scope: not standard, not in op.scopes, not in tokens.scopes');
    });
    if (client.scopes && !client.scopes.includes('openid')) add(`${at}.scopes`, 'must include "openid"');
    if (client.audience !== undefined && !isResourceIndicator(client.audience))
      add(`${at}.audience`, 'must be an absolute URI without fragment (RFC 8707 resource indicator)');
  });
  return problems;
}
