import { z } from 'zod';
import type { ConnectorRegistry } from '../connector.js';
import type { ConnectorBaseConfig } from './connector-base.js';
import { opConfigSchema } from './op.js';
import { httpUrl } from './connector-base.js';
import { withDeclaredDefault, withDefault } from './default.js';

const positiveSeconds = z.number().int().positive().max(31_536_000);

const hostPort = z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

const milliseconds = z.number().int().positive().max(60_000);

const redisCommon = {
  prefix: withDefault(z.string().max(64), 'fedgate:', 'Key prefix.'),
  commandTimeout: withDefault(milliseconds, 2000, 'Per-command timeout, ms.'),
  connectTimeout: withDefault(milliseconds, 2000, 'Connect timeout, ms.'),
  username: z.string().optional(),
  password: z.string().optional(),
  tls: z.boolean().optional().describe('Use TLS (Sentinel/Cluster forms; the URL form uses rediss://).'),
};

/** The key prefix and connect timeout of an app's own client (`options.redis`) when `session.redis` is absent. */
export const redisDefaults = {
  prefix: redisCommon.prefix.def.defaultValue,
  connectTimeout: redisCommon.connectTimeout.def.defaultValue,
};

export const redisConfigSchema = z
  .union([
    z.strictObject({ url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'), ...redisCommon }),
    z.strictObject({ sentinels: z.array(hostPort).min(1), name: z.string().min(1), db: z.number().int().min(0).optional(), ...redisCommon }),
    z.strictObject({ cluster: z.array(hostPort).min(1), ...redisCommon }),
  ])
  .describe('Redis: { url }, Sentinel { sentinels, name } or Cluster { cluster }.');

const secretString = z
  .string()
  .min(32, 'must be at least 32 characters')
  .refine((s) => new Set(s).size >= 8, 'is too weak (too few distinct characters)');

const scopeRuleSchema = z.union([
  z.strictObject({ claim: z.string().min(1), includes: z.union([z.string(), z.number(), z.boolean()]) }),
  z.strictObject({ claim: z.string().min(1), equals: z.union([z.string(), z.number(), z.boolean()]) }),
  z.strictObject({ always: z.literal(true) }),
]);

const jwksSchema = z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) });

const basePathSchema = withDefault(
  z.string().regex(/^\/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~-]$/, 'must start with "/" and not end with "/"'),
  '/auth',
  'Mount path of the auth routes.',
);

const hstsSettingsSchema = z.strictObject({
  maxAge: withDefault(z.number().int().min(31_536_000, 'must be at least one year (31536000)').max(63_072_000), 31_536_000, 'max-age in seconds (one year).'),
  includeSubDomains: withDefault(z.boolean(), false, 'Add includeSubDomains.'),
});

/**
 * Defaults the loader lowers to a shorter `session.absoluteTimeout` (no session idles, and no
 * token lives, beyond it); an explicit value above it is refused instead (lib/config/cross-checks.ts).
 */
export const cappedDefaults = { idleTimeout: 1800, accessTokenTtl: 300, idTokenTtl: 300 } as const;
const capped = ' (at most session.absoluteTimeout)';

export const sessionSchema = z.strictObject({
  secret: z.union([secretString, z.array(secretString).min(1)]).describe('Cookie signing secret(s); the first signs, all verify.'),
  redis: redisConfigSchema.optional(),
  insecureMemoryStore: withDefault(z.boolean(), false, 'Development only: keep sessions in process memory instead of Redis. Refused with NODE_ENV=production.'),
  cookieName: z
    .string()
    .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a cookie token')
    .optional()
    .describe('Default "__Host-fedgate" on https, "fedgate.sid" on http.'),
  idleTimeout: withDeclaredDefault(positiveSeconds, cappedDefaults.idleTimeout, 'Seconds of inactivity after which a session ends.', capped),
  absoluteTimeout: withDefault(positiveSeconds, 43_200, 'Maximum session lifetime in seconds, whatever the activity.'),
  cacheTtl: withDefault(
    z.number().min(0).max(60),
    1,
    'Seconds an instance may serve a verified session from memory; 0 turns the cache off. Changes made on other instances (logout, revocation, refresh) apply at once through Redis pub/sub, and at most after this delay if a message is lost.',
  ),
  transactionTtl: withDefault(positiveSeconds, 600, 'Lifetime of a pending login (state, nonce, PKCE), seconds.'),
});

export const tokensSchema = z.strictObject({
  issuer: httpUrl.optional().describe('Issuer of local tokens. Default baseUrl + basePath.'),
  audience: z.string().min(1).optional().describe('`aud` of local access tokens. Default baseUrl.'),
  keys: z
    .union([z.string().min(1), jwksSchema])
    .optional()
    .describe('Private JWKS (file path or inline). First key signs; all are published.'),
  insecureEphemeralKeys: withDefault(z.boolean(), false, 'Development only: generate a signing key at start. Refused with NODE_ENV=production.'),
  accessTokenTtl: withDeclaredDefault(positiveSeconds, cappedDefaults.accessTokenTtl, 'Local access token lifetime, seconds.', capped),
  idTokenTtl: withDeclaredDefault(positiveSeconds, cappedDefaults.idTokenTtl, 'Local ID token lifetime, seconds.', capped),
  scopes: withDefault(
    z.record(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'invalid scope token'), scopeRuleSchema),
    {},
    'Local scopes granted by rules over the mapped claims.',
  ),
  sessionBound: withDefault(z.boolean(), false, 'Reject bearer access tokens whose session has ended (else: short TTL only).'),
});

/** Builds the whole configuration schema; connector entries come from the registry. */
export function buildConfigSchema(registry: ConnectorRegistry) {
  const connectorSchemas = [...registry.values()].map((c) => c.schema);
  const connectorSchema =
    connectorSchemas.length === 1
      ? connectorSchemas[0]!
      : z.discriminatedUnion(
          'type',
          connectorSchemas as unknown as [z.ZodObject<{ type: z.ZodLiteral<string> }>, ...z.ZodObject<{ type: z.ZodLiteral<string> }>[]],
        );

  return z.strictObject({
    $schema: z.string().optional(),
    baseUrl: httpUrl
      .refine((u) => {
        const p = URL.parse(u.trim());
        return p === null || p.search || p.hash || p.pathname === '/' || p.pathname === '';
      }, 'must be an origin (scheme, host, port) without path, query or fragment')
      .describe('Public origin of the app, e.g. https://app.example.com. Redirect URIs are built from it, never from Host headers.'),
    basePath: basePathSchema,
    allowInsecureRequests: withDefault(z.boolean(), false, 'Development only: allow http:// upstreams and an http baseUrl. Refused with NODE_ENV=production.'),
    hsts: withDefault(
      z.union([z.literal(false), hstsSettingsSchema]),
      hstsSettingsSchema.parse({}),
      "Strict-Transport-Security on fedgate's own responses when baseUrl is https; false when a proxy sets it.",
    ),
    httpTimeout: withDefault(z.number().positive().max(120), 10, 'Timeout of each upstream HTTP request, seconds.'),
    session: sessionSchema,
    // An absent section parses as `{}`, so its defaults apply too.
    tokens: tokensSchema.prefault({}),
    // Broker mode (lib/broker): fedgate as an OpenID Provider for other client apps.
    op: opConfigSchema.optional(),
    // Each connector type validates its own keys; the core only relies on the common ones.
    connectors: z
      .array(connectorSchema as z.ZodType<ConnectorBaseConfig & Record<string, unknown>>)
      .min(1, 'at least one connector is required')
      .max(64),
  });
}

export type ConfigInput = z.input<ReturnType<typeof buildConfigSchema>>;
export type ParsedConfig = z.output<ReturnType<typeof buildConfigSchema>>;
export type RedisConfig = z.output<typeof redisConfigSchema>;
export type ScopeRule = z.output<typeof scopeRuleSchema>;
export type PrivateJwks = z.output<typeof jwksSchema>;
