import { z } from 'zod';
import type { ConnectorRegistry } from '../connector.js';
import type { ConfigProblem } from '../errors.js';
import { isRecord } from '../values.js';
import { connectorBaseShape } from './connector-base.js';
import { formatPath } from './paths.js';
import type { buildConfigSchema, ParsedConfig } from './schema.js';
import { knownKeysAt, nearestName } from './suggest.js';

type Schema = ReturnType<typeof buildConfigSchema>;
type Shape = Schema['shape'];
type SessionShape = Shape['session']['shape'];
type TokensShape = ReturnType<Shape['tokens']['unwrap']>['shape'];
/** The fields of an object schema that parsed, defaults applied; a field that failed (or is absent without a default) is undefined. */
type Fields<S extends z.core.$ZodShape> = { -readonly [K in keyof S]?: z.output<S[K]> };

/** One connector entry as its type's schema parsed it. */
export type ConnectorEntry = ParsedConfig['connectors'][number];
/** The keys every connector type shares, each as its own schema parsed it. */
export type CommonFields = Fields<typeof connectorBaseShape>;

/**
 * What of a configuration passed the schema, section by section, so that cross-field rules run
 * on parsed data only and still run beside schema problems elsewhere ("every problem at once").
 */
export type ConfigView = Omit<Fields<Shape>, 'session' | 'tokens' | 'connectors'> & {
  /** undefined when `session` is missing or not an object. */
  session?: Fields<SessionShape>;
  /** Parsed from `{}` (its defaults) when `tokens` is absent; undefined when it is not an object. */
  tokens?: Fields<TokensShape>;
  /** One slot per entry; undefined where the entry failed its type's schema. */
  connectors: readonly (ConnectorEntry | undefined)[];
  /** The common keys of every entry that parsed on their own (also for entries that failed as a whole). */
  connectorFields: readonly CommonFields[];
  /** Paths (`session.redis`) whose value is present or required but failed the schema. */
  invalid: ReadonlySet<string>;
};

type Issue = z.core.$ZodIssue;

/**
 * Turns a zod issue into problems: `required` for a missing value, the closest branch of a union,
 * and `unknown key; did you mean clientId?` for a typo of a key `schema` knows at that place.
 */
export function issueToProblems(
  issue: Issue,
  schema: z.ZodType,
  display: readonly PropertyKey[],
  within: readonly PropertyKey[] = [],
  elsewhere?: (key: string) => string[],
): ConfigProblem[] {
  const rel = [...within, ...issue.path];
  const at = (extra: PropertyKey[] = []) => formatPath([...display, ...rel, ...extra]);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(schema, rel);
      // A `__proto__` key is reported once, as not allowed anywhere (lib/config/file.ts).
      return issue.keys
        .filter((k) => k !== '__proto__')
        .map((k) => {
          // A key of another connector type (`domain` on an `oidc` entry) says so rather than guess a typo.
          const owners = rel.length === 0 && elsewhere ? elsewhere(k) : [];
          if (owners.length) return { path: at([k]), message: `unknown key for this type (a key of ${owners.join(', ')})` };
          const near = nearestName(k, known);
          return { path: at([k]), message: near ? `unknown key; did you mean ${near}?` : 'unknown key' };
        });
    }
    case 'invalid_union': {
      // Report the branch that came closest instead of a bare "Invalid input".
      if (issue.errors.length === 0) return [{ path: at(), message: issue.message }];
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      if (best.length === 0) return [{ path: at(), message: 'invalid value' }];
      return best.flatMap((i) => issueToProblems(i, schema, display, rel, elsewhere));
    }
    case 'invalid_type':
      if (/received undefined$/.test(issue.message)) return [{ path: at(), message: 'required' }];
      return [{ path: at(), message: `must be ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}` }];
    default:
      // zod messages state the expectation, never the received value.
      return [{ path: at(), message: issue.message }];
  }
}

function parseFields<S extends z.core.$ZodShape>(shape: S, raw: Record<string, unknown>, at: string, invalid: Set<string>): Fields<S> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const result = z.safeParse(schema, Object.hasOwn(raw, key) ? raw[key] : undefined);
    if (result.success) {
      if (result.data !== undefined) out[key] = result.data;
    } else {
      invalid.add(at ? `${at}.${key}` : key);
    }
  }
  // Each field was parsed by its own schema: the cast only restates that.
  return out as Fields<S>;
}

const connectorBaseLoose = z.looseObject(connectorBaseShape);

/** Checks one connector entry with its type's schema, or with the common keys when the type is unknown. */
function parseConnector(entry: unknown, index: number, registry: ConnectorRegistry, problems: ConfigProblem[]): ConnectorEntry | undefined {
  const display = ['connectors', index];
  if (!isRecord(entry)) {
    problems.push({ path: formatPath(display), message: 'must be an object' });
    return undefined;
  }
  const type = entry.type;
  const known = typeof type === 'string' ? registry.get(type) : undefined;
  if (known) {
    const result = known.schema.safeParse(entry);
    if (result.success) return result.data as ConnectorEntry;
    const elsewhere = (key: string) => [...registry.values()].filter((t) => t !== known && knownKeysAt(t.schema, []).includes(key)).map((t) => t.type);
    problems.push(...result.error.issues.flatMap((i) => issueToProblems(i, known.schema, display, [], elsewhere)));
    return undefined;
  }
  const names = [...registry.keys()];
  const at = `${formatPath(display)}.type`;
  if (type === undefined) problems.push({ path: at, message: `required, one of ${names.join(', ')}` });
  else if (typeof type !== 'string') problems.push({ path: at, message: `must be a string, one of ${names.join(', ')}` });
  else {
    const near = nearestName(type, names);
    problems.push({ path: at, message: `must be one of ${names.join(', ')}${near ? `; did you mean ${near}?` : ''}` });
  }
  // The type's own keys are unknown, but the keys every type shares can still be checked.
  const result = connectorBaseLoose.safeParse(entry);
  if (!result.success) problems.push(...result.error.issues.flatMap((i) => issueToProblems(i, connectorBaseLoose, display)));
  return undefined;
}

/**
 * Validates a (substituted) config: the whole schema for its problems, each connector entry with
 * its own type, and each section on its own for the {@link ConfigView} the cross-field rules use.
 */
export function validateSections(
  schema: Schema,
  raw: Record<string, unknown>,
  registry: ConnectorRegistry,
): {
  problems: ConfigProblem[];
  view: ConfigView;
  parsed: ParsedConfig | undefined;
} {
  const problems: ConfigProblem[] = [];
  const result = schema.safeParse(raw);
  // Connector entries are checked one by one below, with their own type even when it is unknown.
  const isEntryIssue = (i: Issue) => i.path[0] === 'connectors' && typeof i.path[1] === 'number';
  if (!result.success) problems.push(...result.error.issues.filter((i) => !isEntryIssue(i)).flatMap((i) => issueToProblems(i, schema, [])));

  const invalid = new Set<string>();
  const { session: _s, tokens: _t, connectors: _c, ...topShape } = schema.shape;
  void _s;
  void _t;
  void _c;
  const top = parseFields(topShape, raw, '', invalid);
  const session = isRecord(raw.session) ? parseFields(schema.shape.session.shape, raw.session, 'session', invalid) : undefined;
  if (!session) invalid.add('session');
  const rawTokens = raw.tokens === undefined ? {} : raw.tokens;
  const tokens = isRecord(rawTokens) ? parseFields(schema.shape.tokens.unwrap().shape, rawTokens, 'tokens', invalid) : undefined;
  if (!tokens) invalid.add('tokens');
  const entries: unknown[] = Array.isArray(raw.connectors) ? raw.connectors : [];
  const connectors = entries.map((entry, i) => parseConnector(entry, i, registry, problems));
  // Scratch set: which common keys of an entry failed is already reported with the entry.
  const connectorFields = entries.map((entry) => (isRecord(entry) ? parseFields(connectorBaseShape, entry, '', new Set()) : {}));

  const view: ConfigView = { ...top, ...(session ? { session } : {}), ...(tokens ? { tokens } : {}), connectors, connectorFields, invalid };
  return { problems, view, parsed: result.success ? result.data : undefined };
}
