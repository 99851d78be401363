import { reservedClaims } from '../tokens/mint.js';

/**
 * Which local claims a client receives, by granted scope (OpenID Connect Core §5.4): `openid`
 * gives `sub` (the protocol claims are the provider's own), `profile` and `email` their standard
 * claims, a custom scope the claims `op.scopes` assigns. The same table configures oidc-provider
 * (ID tokens) and fedgate's userinfo for broker access tokens, so both always agree.
 */
const standardScopeClaims: Readonly<Record<string, readonly string[]>> = Object.freeze({
  openid: ['sub'],
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'picture', 'updated_at'],
  email: ['email', 'email_verified'],
});

export type ScopeClaims = Readonly<Record<string, readonly string[]>>;

/** The scope → claims table: the standard scopes plus `op.scopes`. */
export function buildScopeClaims(custom: ScopeClaims): ScopeClaims {
  const table: Record<string, readonly string[]> = { ...standardScopeClaims };
  for (const [scope, claims] of Object.entries(custom)) table[scope] = [...claims];
  return Object.freeze(table);
}

/** The `claims` configuration of oidc-provider for that table. */
export function providerClaimsConfig(table: ScopeClaims): Record<string, string[] | null> {
  const out: Record<string, string[] | null> = { sid: null, auth_time: null, iss: null, acr: null };
  for (const [scope, claims] of Object.entries(table)) out[scope] = [...claims];
  return out;
}

/**
 * Keeps only the claims released by `scopes`, from own properties only (a claim named
 * `__proto__` or `constructor` is never read from a prototype). `sub` is always the local sub.
 */
export function filterClaims(claims: Readonly<Record<string, unknown>>, sub: string, scopes: Iterable<string>, table: ScopeClaims): Record<string, unknown> {
  const out: Record<string, unknown> = { sub };
  for (const scope of scopes) {
    if (!Object.hasOwn(table, scope)) continue;
    for (const name of table[scope]!) {
      if (name === 'sub' || name === '__proto__' || reservedClaims.has(name)) continue;
      if (!Object.hasOwn(claims, name)) continue;
      const value = claims[name];
      if (value !== undefined && value !== null) out[name] = value;
    }
  }
  return out;
}

/** The account's claims that any scope may release, for oidc-provider's `findAccount`. */
export function accountClaims(claims: Readonly<Record<string, unknown>>, sub: string, table: ScopeClaims): Record<string, unknown> & { sub: string } {
  return { ...filterClaims(claims, sub, Object.keys(table), table), sub };
}
