import { FedgateError } from '../errors.js';
import { reservedClaims, standardClaimTypes, type ClaimMapping, type ClaimMappingEntry, type ClaimRule } from './schema.js';

/** One of the coercion targets of a rule's `type`. */
export type ClaimType = NonNullable<ClaimRule['type']>;

/** Default cap on the UTF-8 JSON size of one identity's mapped claims; they end up in tokens and the session. */
export const defaultMaxClaimBytes = 16_384;

/** Longest array a mapped claim may hold (Entra alone can send 200 group ids; anything near this is abuse). */
export const maxClaimArrayItems = 1000;

/** Upstream JSON nested deeper than this is refused rather than risking a deep recursion. */
const maxDepth = 32;

/**
 * Names never followed as a path segment, never copied as an object key and never emitted as a local claim:
 * they are the classic prototype-pollution vectors.
 */
export const unsafeClaimNames: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const reservedNames: ReadonlySet<string> = new Set(reservedClaims);

/** Options of {@link mapClaims}. */
export interface MapClaimsOptions {
  /** Cap on `JSON.stringify(result)` in UTF-8 bytes. Default {@link defaultMaxClaimBytes}. */
  maxBytes?: number;
}

/** A claim source, pre-split so the dotted-path fallback costs no parsing at login time. */
export interface CompiledSource {
  readonly name: string;
  readonly segments: readonly string[];
}

/** One rule of a {@link CompiledMapping}: the object form of a mapping entry with its regex compiled. */
export interface CompiledClaimRule {
  readonly local: string;
  /** Sources tried in order; empty for a constant. */
  readonly sources: readonly CompiledSource[];
  readonly isConstant: boolean;
  readonly constant: unknown;
  readonly type: ClaimType | undefined;
  readonly split: string | undefined;
  readonly fallback: unknown;
  readonly required: boolean;
  readonly lowercase: boolean;
  readonly prefix: string;
  readonly match: RegExp | undefined;
}

/** A mapping prepared once by {@link compileMapping} and reused at every login. */
export class CompiledMapping {
  readonly rules: readonly CompiledClaimRule[];

  constructor(rules: readonly CompiledClaimRule[]) {
    this.rules = Object.freeze([...rules]);
    Object.freeze(this);
  }
}

/**
 * Compiles a `match` pattern. The `u` flag gives the strict modern grammar (no Annex B leniency) and no `g`/`y`
 * flag keeps `test()` stateless, so one RegExp is safely shared by every login.
 */
export function compileClaimPattern(pattern: string): RegExp {
  return new RegExp(pattern, 'u');
}

/**
 * Prepares a mapping for {@link mapClaims}: normalises the string shorthand, splits source paths and compiles
 * `match` regexes. `null` entries and reserved or unsafe local names produce no rule.
 *
 * @throws FedgateError `CONFIG_INVALID` when a `match` is not a valid regular expression (run
 *   `validateMapping` first to report it with its config path).
 */
export function compileMapping(mapping: ClaimMapping): CompiledMapping {
  const rules: CompiledClaimRule[] = [];
  for (const [local, entry] of Object.entries(mapping)) {
    if (entry === null || entry === undefined || reservedNames.has(local) || unsafeClaimNames.has(local)) continue;
    const rule: ClaimRule = typeof entry === 'string' ? { from: entry } : entry;
    const isConstant = Object.hasOwn(rule, 'value');
    const from = rule.from ?? local;
    const names = isConstant ? [] : typeof from === 'string' ? [from] : from;
    let match: RegExp | undefined;
    if (rule.match !== undefined) {
      try {
        match = compileClaimPattern(rule.match);
      } catch (cause) {
        throw new FedgateError('CONFIG_INVALID', `Claim "${local}" has an invalid regular expression`, { cause });
      }
    }
    rules.push(
      Object.freeze({
        local,
        sources: Object.freeze(names.map((name) => Object.freeze({ name, segments: Object.freeze(name.split('.')) }))),
        isConstant,
        constant: rule.value,
        // A standard claim always gets its OpenID Connect type, so a wrong upstream shape fails the login.
        type: rule.type ?? standardClaimTypes.get(local),
        split: rule.split,
        fallback: rule.default,
        required: rule.required === true,
        lowercase: rule.lowercase === true,
        prefix: rule.prefix ?? '',
        match,
      }),
    );
  }
  return new CompiledMapping(rules);
}

/**
 * Maps upstream claims (ID token overlaid by userinfo) to local claims.
 *
 * Per rule: the first present source (not `undefined`, not `null`) or the constant, else `default`; then `type`
 * coercion (or a JSON-safe deep copy without `type`, so the result never aliases upstream objects); then
 * `lowercase`, `match`, `prefix`, in that order, on strings and string items. A standard claim without a `type`
 * (OpenID Connect Core §5.1: `email`, `name`, `email_verified`, ...) is coerced to its standard type. A string that fails `match` drops
 * the claim; array items that fail it are removed. Reserved JWT claims and unsafe names are never emitted.
 *
 * A source is tried as a literal claim name first (`cognito:groups`, `https://example.com/roles`), then as a
 * dotted path through own properties and non-negative array indexes (`realm_access.roles`, `emails.0`).
 *
 * Pass a {@link CompiledMapping} to skip compiling on every call. Pure: no I/O.
 *
 * @throws FedgateError `CLAIM_REQUIRED_MISSING` when a `required` claim ends up absent; `CLAIMS_INVALID` when a
 *   value cannot be coerced, an array exceeds {@link maxClaimArrayItems} items, or the result exceeds `maxBytes`.
 *   Messages name the local claim only, never an upstream value (they may be personal data).
 */
export function mapClaims(mapping: ClaimMapping | CompiledMapping, upstream: Record<string, unknown>, options: MapClaimsOptions = {}): Record<string, unknown> {
  const compiled = mapping instanceof CompiledMapping ? mapping : compileMapping(mapping);
  const out = new Map<string, unknown>();
  for (const rule of compiled.rules) {
    const value = mapRule(rule, upstream);
    if (value !== undefined) out.set(rule.local, value);
  }
  const result = nullPrototypeObject(out);
  const maxBytes = options.maxBytes ?? defaultMaxClaimBytes;
  if (Buffer.byteLength(JSON.stringify(result), 'utf8') > maxBytes) {
    throw new FedgateError('CLAIMS_INVALID', `Mapped claims exceed ${maxBytes} bytes`);
  }
  return result;
}

function mapRule(rule: CompiledClaimRule, upstream: Record<string, unknown>): unknown {
  let raw: unknown = rule.isConstant ? rule.constant : undefined;
  for (const source of rule.sources) {
    raw = lookupClaim(upstream, source);
    if (raw != null) break;
  }
  if (raw == null) raw = rule.fallback;
  const value = raw == null ? undefined : transform(rule, rule.type ? coerceClaim(raw, rule.type, rule.local, rule.split) : cloneJson(raw, rule.local, 0));
  if (value === undefined && rule.required) {
    throw new FedgateError('CLAIM_REQUIRED_MISSING', `Required claim "${rule.local}" is missing`);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Literal own-property name first, because real claim names contain dots (`https://example.com/roles`). */
function lookupClaim(upstream: Record<string, unknown>, source: CompiledSource): unknown {
  if (!isRecord(upstream)) return undefined;
  if (!unsafeClaimNames.has(source.name) && Object.hasOwn(upstream, source.name)) {
    const literal = upstream[source.name];
    if (literal != null) return literal;
  }
  if (source.segments.length < 2) return undefined;
  let current: unknown = upstream;
  for (const segment of source.segments) {
    if (!isRecord(current) || unsafeClaimNames.has(segment)) return undefined;
    // Only canonical indexes on arrays: "length", "-1" or "01" must not resolve.
    if (Array.isArray(current) && !/^(?:0|[1-9]\d*)$/.test(segment)) return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function invalid(local: string, message: string, value?: unknown): FedgateError {
  // detail names the JSON kind only; the value itself may be personal data.
  const kind = value === undefined ? undefined : Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  return new FedgateError('CLAIMS_INVALID', `Claim "${local}" ${message}`, kind ? { detail: `upstream value is ${kind}` } : {});
}

function checkLength(items: readonly unknown[], local: string): void {
  if (items.length > maxClaimArrayItems) throw invalid(local, `has more than ${maxClaimArrayItems} items`);
}

const numericString = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function scalarToString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Coerces one present value to `type`. Exported for config validation of `default` and `value`.
 *
 * @throws FedgateError `CLAIMS_INVALID` naming `local` when the value does not fit.
 */
export function coerceClaim(value: unknown, type: ClaimType, local: string, split?: string): unknown {
  switch (type) {
    case 'string': {
      const s = scalarToString(value);
      if (s === undefined) throw invalid(local, 'is not a valid string', value);
      return s;
    }
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && numericString.test(value) ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw invalid(local, 'is not a valid number', value);
      return n;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      // Cognito userInfo sends email_verified as "true"/"false".
      const lower = typeof value === 'string' ? value.toLowerCase() : undefined;
      if (lower === 'true' || lower === 'false') return lower === 'true';
      throw invalid(local, 'is not a valid boolean', value);
    }
    case 'string[]': {
      let items: string[];
      if (Array.isArray(value)) {
        checkLength(value, local);
        items = value.map((item: unknown) => {
          const s = scalarToString(item);
          if (s === undefined) throw invalid(local, 'is not a valid string[]', item);
          return s;
        });
      } else if (typeof value === 'string' && split !== undefined) {
        items = value
          .split(split)
          .map((s) => s.trim())
          .filter((s) => s !== '');
      } else {
        const s = scalarToString(value);
        if (s === undefined) throw invalid(local, 'is not a valid string[]', value);
        items = [s];
      }
      checkLength(items, local);
      return items;
    }
  }
}

/** A JSON-only deep copy: the output never aliases upstream objects and never carries unsafe keys. */
function cloneJson(value: unknown, local: string, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (!isRecord(value)) throw invalid(local, 'is not JSON data', value);
  if (depth >= maxDepth) throw invalid(local, 'is nested too deeply');
  if (Array.isArray(value)) {
    checkLength(value, local);
    return Array.from(value, (item: unknown) => (item === undefined ? null : cloneJson(item, local, depth + 1)));
  }
  const entries: Array<[string, unknown]> = [];
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item !== undefined && !unsafeClaimNames.has(key)) entries.push([key, cloneJson(item, local, depth + 1)]);
  }
  return nullPrototypeObject(entries);
}

/**
 * Own data properties on an object without a prototype: no key can reach a prototype setter, and a
 * polluted `Object.prototype` elsewhere in the process cannot make `claims.isAdmin` appear.
 */
function nullPrototypeObject(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of entries) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

function transformString(rule: CompiledClaimRule, value: string): string | undefined {
  const s = rule.lowercase ? value.toLowerCase() : value;
  if (rule.match && !rule.match.test(s)) return undefined;
  return rule.prefix + s;
}

function transform(rule: CompiledClaimRule, value: unknown): unknown {
  if (!rule.lowercase && !rule.match && !rule.prefix) return value;
  if (typeof value === 'string') return transformString(rule, value);
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value) {
      if (typeof item !== 'string') {
        // A non-string item can never match, so a `match` filter removes it.
        if (!rule.match) items.push(item);
        continue;
      }
      const s = transformString(rule, item);
      if (s !== undefined) items.push(s);
    }
    return items;
  }
  return rule.match ? undefined : value;
}

/**
 * Overlays a user's mapping on a connector preset: user entries replace preset entries whole, and a user `null`
 * removes the preset entry. Returns a new mapping; rule objects are shared, not copied.
 */
export function mergeMappings(preset: ClaimMapping, user?: ClaimMapping): ClaimMapping {
  const merged = new Map<string, ClaimMappingEntry>();
  for (const [local, entry] of Object.entries(preset)) if (entry !== null) merged.set(local, entry);
  for (const [local, entry] of Object.entries(user ?? {})) {
    if (entry === null) merged.delete(local);
    else merged.set(local, entry);
  }
  return Object.fromEntries(merged);
}
