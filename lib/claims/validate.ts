import type { ConfigProblem } from '../errors.js';
import { coerceClaim, compileClaimPattern, unsafeClaimNames } from './map.js';
import { reservedClaims, standardClaimTypes, type ClaimMapping, type ClaimRule } from './schema.js';

const reservedNames: ReadonlySet<string> = new Set(reservedClaims);

/** Longest `match` pattern accepted; the schema enforces it too, this keeps the check self-contained. */
const maxPatternLength = 512;

/** Length of a repetition (`*`, `+`, `{n,}`, `{n,m}` with m > 1) starting at `i`, or 0. */
function repetitionLength(pattern: string, i: number): number {
  const c = pattern[i];
  if (c === '*' || c === '+') return 1;
  if (c !== '{') return 0;
  const m = /^\{\d+,(\d*)\}/.exec(pattern.slice(i, i + 24));
  if (!m) return 0;
  return m[1] === '' || Number(m[1]) > 1 ? m[0].length : 0;
}

/**
 * Cheap heuristic for the classic ReDoS shape: a repeated group that itself contains a repetition, such as
 * `(a+)+`, `(.*)*` or `((ab)*c)+`. It does not catch overlapping alternations like `(a|a)+`, and it flags some
 * safe patterns (`([a-z]+,)*`); since the pattern comes from config, a rewrite is the cheap fix.
 */
export function hasNestedRepetition(pattern: string): boolean {
  // One flag per open group: does it contain a repetition?
  const stack: boolean[] = [false];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      // Skip the character class: quantifier characters inside it are literals.
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
    } else if (c === '(') {
      stack.push(false);
    } else if (c === ')') {
      const inner = stack.length > 1 ? stack.pop() === true : false;
      const repeated = repetitionLength(pattern, i + 1) > 0;
      if (inner && repeated) return true;
      if (inner) stack[stack.length - 1] = true;
    } else {
      const n = repetitionLength(pattern, i);
      if (n > 0) {
        stack[stack.length - 1] = true;
        i += n - 1;
      }
    }
  }
  return false;
}

function checkPattern(pattern: string): string | undefined {
  if (pattern.length > maxPatternLength) return `regular expression is longer than ${maxPatternLength} characters`;
  try {
    compileClaimPattern(pattern);
  } catch {
    return 'invalid regular expression';
  }
  return hasNestedRepetition(pattern) ? 'regular expression may backtrack catastrophically' : undefined;
}

function checkRule(local: string, given: ClaimRule, path: string, problems: ConfigProblem[]): void {
  const standard = standardClaimTypes.get(local);
  if (standard !== undefined && given.type !== undefined && given.type !== standard) {
    problems.push({ path: `${path}.type`, message: `must be "${standard}": OpenID Connect Core §5.1 defines ${local} as a ${standard}` });
  }
  // The type the claim really gets (lib/claims/map.ts): its own, else the standard one.
  const rule: ClaimRule = given.type === undefined && standard !== undefined ? { ...given, type: standard } : given;
  if (rule.from !== undefined && Object.hasOwn(rule, 'value')) {
    problems.push({ path, message: 'cannot have both "from" and "value"' });
  }
  if (rule.split !== undefined && rule.type !== 'string[]') {
    problems.push({ path: `${path}.split`, message: 'requires type "string[]"' });
  }
  if (rule.match !== undefined) {
    const message = checkPattern(rule.match);
    if (message) problems.push({ path: `${path}.match`, message });
  }
  if (rule.type === 'number' || rule.type === 'boolean') {
    // These options only act on strings; on a number or boolean `match` would silently drop the claim.
    for (const option of ['lowercase', 'prefix', 'match'] as const) {
      if (rule[option] !== undefined) {
        problems.push({ path: `${path}.${option}`, message: `does not apply to type "${rule.type}"` });
      }
    }
  }
  if (rule.type === undefined) return;
  for (const key of ['default', 'value'] as const) {
    const value = rule[key];
    if (value === undefined || value === null) continue;
    try {
      coerceClaim(value, rule.type, local, rule.split);
    } catch {
      problems.push({ path: `${path}.${key}`, message: `does not match type "${rule.type}"` });
    }
  }
}

/**
 * Configuration-time checks of a claim mapping beyond its zod schema: reserved JWT claims and prototype keys as
 * local names, `from` together with `value`, `split` without `type: "string[]"`, `default`/`value` that do not
 * fit `type`, string-only options on number or boolean claims, and `match` patterns that are invalid or shaped
 * for catastrophic backtracking.
 *
 * @param mapping A mapping that already passed `claimMappingSchema`.
 * @param path The dotted config path of the mapping, e.g. `connectors[0].claims`.
 * @returns Every problem found, each with its full path (empty when the mapping is fine).
 */
export function validateMapping(mapping: ClaimMapping, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [local, entry] of Object.entries(mapping)) {
    // `null` maps nothing, so even a reserved name is harmless there.
    if (entry === null || entry === undefined) continue;
    // Plain dot join, as lib/config/paths.ts formats schema paths.
    const entryPath = `${path}.${local}`;
    if (reservedNames.has(local)) {
      problems.push({ path: entryPath, message: 'reserved JWT claim cannot be mapped' });
    } else if (unsafeClaimNames.has(local)) {
      problems.push({ path: entryPath, message: 'is not an allowed claim name' });
    }
    if (typeof entry === 'object') checkRule(local, entry, entryPath, problems);
  }
  return problems;
}
