import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { ConnectorRegistry } from '../connector.js';
import { validateMapping } from '../claims/validate.js';
import { validatePrivateJwks } from '../tokens/keys.js';
import { substituteEnv } from './env.js';
import { formatPath } from './paths.js';
import { validateOpConfig, type OpConfig } from '../broker/config.js';
import { buildConfigSchema, type ParsedConfig, type PrivateJwks, type RedisConfig, type ScopeRule } from './schema.js';
import { deepFreeze } from '../values.js';
import type { HstsSettings } from '../http/hygiene.js';

/** The validated, defaulted and frozen configuration the gateway runs on. */
export interface ResolvedConfig {
  readonly baseUrl: string;
  readonly basePath: string;
  /** Whether the public origin is https (Secure cookies, `__Host-` name). */
  readonly secure: boolean;
  readonly allowInsecureRequests: boolean;
  /** Strict-Transport-Security settings (sent only when `secure`), or false when turned off. */
  readonly hsts: HstsSettings | false;
  readonly httpTimeout: number;
  /** Folder that relative file paths resolve against. */
  readonly baseDir: string;
  readonly session: {
    readonly secrets: readonly string[];
    readonly redis?: RedisConfig;
    readonly memoryStore: boolean;
    readonly cookieName: string;
    readonly idleTimeout: number;
    readonly absoluteTimeout: number;
    readonly transactionTtl: number;
    readonly cacheTtl: number;
    readonly prefix: string;
  };
  readonly tokens: {
    readonly issuer: string;
    readonly audience: string;
    readonly keys?: string | PrivateJwks;
    readonly insecureEphemeralKeys: boolean;
    readonly accessTokenTtl: number;
    readonly idTokenTtl: number;
    readonly scopes: Readonly<Record<string, ScopeRule>>;
    readonly sessionBound: boolean;
  };
  readonly connectors: readonly ParsedConfig['connectors'][number][];
  /** Broker mode (`op` block), as validated; defaults are applied by lib/broker. */
  readonly op?: OpConfig;
}

export interface LoadConfigOptions {
  registry: ConnectorRegistry;
  env?: Readonly<Record<string, string | undefined>>;
  nodeEnv?: string;
  cwd?: string;
}

/**
 * Reads (when given a path), substitutes `${env:NAME}`, validates completely, applies defaults
 * and freezes. Throws one ConfigError listing every problem with its path.
 */
export function loadConfig(input: string | object, options: LoadConfigOptions): ResolvedConfig {
  const env = options.env ?? {};
  let raw: unknown = input;
  let baseDir = options.cwd ?? process.cwd();
  if (typeof input === 'string') {
    const file = path.resolve(baseDir, input);
    baseDir = path.dirname(file);
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      const why = err instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read';
      throw new ConfigError([{ path: '(file)', message: `${path.basename(file)} ${why}` }], 'CONFIG_FILE_UNREADABLE');
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ path: '(root)', message: 'must be a JSON object' }]);
  }

  const problems: ConfigProblem[] = [];
  const substituted = substituteEnv(raw, env, problems);
  const schema = buildConfigSchema(options.registry);
  const result = schema.safeParse(substituted);
  // A path whose ${env:...} is missing gets that one problem, not also "too short" and the like.
  const envPaths = new Set(problems.map((p) => p.path));
  if (!result.success) problems.push(...result.error.issues.flatMap((i) => issueToProblems(i)).filter((p) => !envPaths.has(p.path) && ![...envPaths].some((e) => p.path.startsWith(`${e}[`))));
  if (!result.success) {
    // Report the cross-field problems too, so one run lists every problem, not two rounds of them.
    if (substituted && typeof substituted === 'object') problems.push(...crossChecks(substituted as ParsedConfig, options));
    throw new ConfigError(dedupe(problems));
  }

  const parsed = result.data;
  problems.push(...crossChecks(parsed, options));
  if (problems.length) throw new ConfigError(dedupe(problems));
  return deepFreeze(resolve(parsed, baseDir));
}

type Issue = z.core.$ZodIssue;

function issueToProblems(issue: Issue, prefix: PropertyKey[] = []): ConfigProblem[] {
  const p = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ path: formatPath([...p, k]), message: 'unknown key' }));
    case 'invalid_union': {
      // Report the branch that came closest instead of a bare "Invalid input".
      if (issue.errors.length === 0) return [{ path: formatPath(p), message: issue.message }];
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      if (best.length === 0) return [{ path: formatPath(p), message: 'invalid value' }];
      return best.flatMap((i) => issueToProblems(i, p));
    }
    case 'invalid_type':
      if (/received undefined$/.test(issue.message)) return [{ path: formatPath(p), message: 'required' }];
      return [{ path: formatPath(p), message: `must be ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}` }];
    default:
      // zod messages state the expectation, never the received value.
      return [{ path: formatPath(p), message: issue.message }];
  }
}

function crossChecks(c: ParsedConfig, options: LoadConfigOptions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // Each check stands alone: on input that failed the schema, a check whose section is malformed
  // throws and is skipped (the schema already reported that section), and the others still run.
  const check = (fn: () => void) => {
    try {
      fn();
    } catch {
      /* reported by the schema */
    }
  };
  const production = options.nodeEnv === 'production';
  check(() => {
    const insecureFlags: Array<[string, boolean | undefined]> = [
      ['allowInsecureRequests', c.allowInsecureRequests],
      ['session.insecureMemoryStore', c.session?.insecureMemoryStore],
      ['tokens.insecureEphemeralKeys', c.tokens?.insecureEphemeralKeys],
    ];
    if (production) {
      for (const [p, on] of insecureFlags) if (on === true) problems.push({ path: p, message: 'development-only option refused with NODE_ENV=production' });
    }
  });
  check(() => {
    const baseUrl = new URL(c.baseUrl);
    if (baseUrl.protocol === 'http:' && !c.allowInsecureRequests && !isLoopback(baseUrl.hostname)) {
      problems.push({ path: 'baseUrl', message: 'must be https (http only for localhost, or with allowInsecureRequests)' });
    }
    if (c.session?.cookieName?.startsWith('__Host-') && baseUrl.protocol !== 'https:') {
      problems.push({ path: 'session.cookieName', message: '__Host- cookies need an https baseUrl' });
    }
  });
  check(() => {
    if (!c.session) return;
    if (!c.session.redis && !c.session.insecureMemoryStore) {
      problems.push({ path: 'session.redis', message: 'required (or session.insecureMemoryStore for development)' });
    }
    if (c.session.redis && c.session.insecureMemoryStore) {
      problems.push({ path: 'session.insecureMemoryStore', message: 'cannot be combined with session.redis' });
    }
  });
  const tokens = c.tokens;
  check(() => {
    if (!tokens?.keys && !tokens?.insecureEphemeralKeys) {
      problems.push({ path: 'tokens.keys', message: 'required (or tokens.insecureEphemeralKeys for development)' });
    }
    if (tokens?.keys && typeof tokens.keys === 'object') problems.push(...validatePrivateJwks(tokens.keys, 'tokens.keys'));
  });
  check(() => {
    if (!c.op) return;
    const origin = new URL(c.baseUrl).origin;
    const base = c.basePath ?? '/auth';
    problems.push(...validateOpConfig(c.op, { baseUrl: origin, basePath: base, issuer: stripSlash(tokens?.issuer ?? `${origin}${base}`), allowInsecureRequests: c.allowInsecureRequests ?? false, localScopes: Object.keys(tokens?.scopes ?? {}), audience: tokens?.audience ?? origin }));
  });

  const seen = new Set<string>();
  const connectors = Array.isArray(c.connectors) ? c.connectors : [];
  connectors.forEach((conn, i) => {
    const at = `connectors[${i}]`;
    check(() => {
      if (typeof conn.id !== 'string') return;
      if (seen.has(conn.id)) problems.push({ path: `${at}.id`, message: `duplicate connector id "${conn.id}"` });
      seen.add(conn.id);
    });
    check(() => {
      if (conn.claims) problems.push(...validateMapping(conn.claims, `${at}.claims`));
    });
    check(() => {
      const type = options.registry.get(conn.type);
      if (type?.validate) problems.push(...type.validate(conn, at, { allowInsecureRequests: c.allowInsecureRequests === true }));
    });
  });
  return problems;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

function resolve(c: ParsedConfig, baseDir: string): ResolvedConfig {
  const baseUrl = new URL(c.baseUrl).origin;
  const basePath = c.basePath ?? '/auth';
  const secure = baseUrl.startsWith('https:');
  const secrets = typeof c.session.secret === 'string' ? [c.session.secret] : c.session.secret;
  const keys = typeof c.tokens?.keys === 'string' ? path.resolve(baseDir, c.tokens.keys) : c.tokens?.keys;
  return {
    baseUrl,
    basePath,
    secure,
    allowInsecureRequests: c.allowInsecureRequests ?? false,
    hsts: c.hsts === false ? false : { maxAge: c.hsts?.maxAge ?? 31_536_000, includeSubDomains: c.hsts?.includeSubDomains ?? false },
    httpTimeout: c.httpTimeout ?? 10,
    baseDir,
    session: {
      secrets,
      ...(c.session.redis ? { redis: c.session.redis } : {}),
      memoryStore: c.session.insecureMemoryStore ?? false,
      cookieName: c.session.cookieName ?? (secure ? '__Host-fedgate' : 'fedgate.sid'),
      idleTimeout: c.session.idleTimeout ?? 1800,
      absoluteTimeout: c.session.absoluteTimeout ?? 43200,
      transactionTtl: c.session.transactionTtl ?? 600,
      cacheTtl: c.session.cacheTtl ?? 1,
      prefix: c.session.redis?.prefix ?? 'fedgate:',
    },
    tokens: {
      issuer: stripSlash(c.tokens?.issuer ?? `${baseUrl}${basePath}`),
      audience: c.tokens?.audience ?? baseUrl,
      ...(keys ? { keys } : {}),
      insecureEphemeralKeys: c.tokens?.insecureEphemeralKeys ?? false,
      accessTokenTtl: c.tokens?.accessTokenTtl ?? 300,
      idTokenTtl: c.tokens?.idTokenTtl ?? 300,
      scopes: c.tokens?.scopes ?? {},
      sessionBound: c.tokens?.sessionBound ?? false,
    },
    connectors: c.connectors,
    ...(c.op ? { op: c.op } : {}),
  };
}

function stripSlash(u: string): string {
  return u.endsWith('/') ? u.slice(0, -1) : u;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

