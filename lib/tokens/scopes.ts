import type { ScopeRule } from '../config/schema.js';

/**
 * Computes the local scopes granted to a principal from the `tokens.scopes` rules over its mapped
 * claims. The result becomes the access token's `scope` claim (RFC 9068 §2.2.3, RFC 6749 §3.3).
 *
 * - `{ claim, includes }`: the claim is an array holding the value, or a string equal to it;
 * - `{ claim, equals }`: the claim is strictly equal to the value;
 * - `{ always: true }`: granted to every signed-in principal.
 *
 * Claims are read as own properties only, so a claim named `constructor` or `__proto__` can never
 * match something inherited from `Object.prototype`.
 *
 * @returns scope names, sorted and deduplicated
 */
export function computeScopes(rules: Record<string, ScopeRule> | undefined, claims: Record<string, unknown>): string[] {
  if (!rules) return [];
  const granted = new Set<string>();
  for (const [scope, rule] of Object.entries(rules)) {
    if (matches(rule, claims)) granted.add(scope);
  }
  return [...granted].sort();
}

function matches(rule: ScopeRule, claims: Record<string, unknown>): boolean {
  if ('always' in rule) return rule.always === true;
  if (!Object.hasOwn(claims, rule.claim)) return false;
  const value = claims[rule.claim];
  if ('includes' in rule) {
    return Array.isArray(value) ? value.some((item) => item === rule.includes) : value === rule.includes && typeof value === 'string';
  }
  return value === rule.equals;
}
