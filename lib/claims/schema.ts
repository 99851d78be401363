import { z } from 'zod';

/** JWT claims a mapping may never target (RFC 7519 registered claims the gateway owns). */
export const reservedClaims = ['iss', 'aud', 'exp', 'iat', 'nbf', 'jti'] as const;

export const claimTypes = ['string', 'number', 'boolean', 'string[]'] as const;

/**
 * Standard claims whose JSON type OpenID Connect Core §5.1 fixes
 * (https://openid.net/specs/openid-connect-core-1_0.html#StandardClaims). As local claims they always
 * have that type: an upstream `email: ["mallory@evil.example", "alice@example.com"]` must never reach an
 * app whose `claims.email.endsWith('@example.com')` would then fail open.
 */
export const standardClaimTypes: ReadonlyMap<string, 'string' | 'boolean'> = new Map([
  ...[
    'email',
    'name',
    'given_name',
    'family_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'phone_number',
  ].map((c) => [c, 'string'] as const),
  ...['email_verified', 'phone_number_verified'].map((c) => [c, 'boolean'] as const),
]);

/** A claim source: a claim name as written, or a dotted path into nested objects and arrays. */
const sourceSchema = z.string().min(1).max(256);

/** The object form of one local claim's rule. */
export const claimRuleSchema = z
  .strictObject({
    from: z
      .union([sourceSchema, z.array(sourceSchema).min(1).max(16)])
      .optional()
      .describe(
        'Upstream claim(s) to read; the first one present wins. A name is tried as written first (`cognito:groups`, `https://example.com/roles`), then as a path (`realm_access.roles`, `emails.0`).',
      ),
    value: z.unknown().optional().describe('A constant value for this claim.'),
    type: z
      .enum(claimTypes)
      .optional()
      .describe('Coerce to this type: `string`, `number`, `boolean` (accepts "true"/"false"), `string[]` (accepts a single string, or splits on `split`).'),
    split: z.string().min(1).max(8).optional().describe('With `type: "string[]"`: separator to split a single string on.'),
    default: z.unknown().optional().describe('Value used when no source is present.'),
    required: z.boolean().optional().describe('Fail the login with CLAIM_REQUIRED_MISSING when absent.'),
    lowercase: z.boolean().optional().describe('Lower-case string values (and items of string arrays).'),
    prefix: z.string().max(256).optional().describe('Prepend to string values (and items of string arrays).'),
    match: z.string().max(512).optional().describe('Regular expression; keep only array items (or a string value) that match.'),
  })
  .describe('Rule for one local claim.');

/** `"local": "source"`, `{ from | value, ...options }`, or `null` to drop a preset mapping. */
export const claimMappingEntrySchema = z.union([sourceSchema, claimRuleSchema, z.null()]);

/** A connector's claim mapping: local claim name → rule. */
export const claimMappingSchema = z
  .record(z.string().min(1).max(128), claimMappingEntrySchema)
  .describe('Maps upstream claims to local claims. See README "Claim mapping".');

export type ClaimRule = z.infer<typeof claimRuleSchema>;
export type ClaimMappingEntry = z.infer<typeof claimMappingEntrySchema>;
export type ClaimMapping = z.infer<typeof claimMappingSchema>;
