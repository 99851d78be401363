import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { ConnectorRegistry } from '../connector.js';
import { substituteEnv } from './env.js';
import type { OpConfig } from './op.js';
import { buildConfigSchema, cappedDefaults, redisDefaults, type ParsedConfig, type PrivateJwks, type RedisConfig, type ScopeRule } from './schema.js';
import { crossChecks, stripSlash } from './cross-checks.js';
import { protoKeyProblems, readConfigFile } from './file.js';
import { validateSections } from './view.js';
import { deepFreeze } from '../values.js';
import type { HstsSettings } from '../http/hygiene.js';

/** Where sessions (and every other key fedgate keeps) live. */
export type SessionStoreConfig =
  /** A Redis client fedgate opens from `session.redis`, and closes. */
  | { readonly kind: 'redis'; readonly redis: RedisConfig }
  /**
   * The app's own ioredis client (`options.redis`), which fedgate never closes; `connectTimeout`
   * (ms, from `session.redis` when also given) bounds how long `ready()` waits for it.
   */
  | { readonly kind: 'external'; readonly connectTimeout: number }
  /** `session.insecureMemoryStore`: process memory, development only. */
  | { readonly kind: 'memory' };

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
    readonly store: SessionStoreConfig;
    readonly cookieName: string;
    readonly idleTimeout: number;
    readonly absoluteTimeout: number;
    readonly transactionTtl: number;
    readonly cacheTtl: number;
    /** Key prefix in the store (`session.redis.prefix`). */
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
  /** The app hands fedgate its own ioredis client (`options.redis`): `session.redis` is then optional. */
  externalRedis?: boolean;
  /**
   * Read and check the `tokens.keys` file now, synchronously, like the rest of the config.
   * Default true; offline tools that never sign (`fedgate map`) turn it off.
   */
  readKeyFile?: boolean;
}

/**
 * Reads (when given a path: UTF-8 only, strict JSON, duplicate keys refused), substitutes
 * `${env:NAME}`, validates completely (signing keys included), applies defaults and freezes.
 * Throws one ConfigError listing every problem with its path.
 */
export function loadConfig(input: string | object, options: LoadConfigOptions): ResolvedConfig {
  const env = options.env ?? {};
  let raw: unknown = input;
  let baseDir = options.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];
  if (typeof input === 'string') {
    const file = path.resolve(baseDir, input);
    baseDir = path.dirname(file);
    const read = readConfigFile(file);
    raw = read.raw;
    problems.push(...read.problems);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ path: '(root)', message: 'must be a JSON object' }]);
  }
  problems.push(...protoKeyProblems(raw));

  const envProblems: ConfigProblem[] = [];
  const substituted = substituteEnv(raw, env, envProblems) as Record<string, unknown>;
  problems.push(...envProblems);
  const { problems: schemaProblems, view, parsed } = validateSections(buildConfigSchema(options.registry), substituted, options.registry);
  // A path whose ${env:...} is missing gets that one problem, not also "too short" and the like.
  const envPaths = envProblems.map((p) => p.path);
  problems.push(...schemaProblems.filter((p) => !envPaths.some((e) => p.path === e || p.path.startsWith(`${e}[`))));
  problems.push(
    ...crossChecks(view, {
      registry: options.registry,
      baseDir,
      ...(options.nodeEnv !== undefined ? { nodeEnv: options.nodeEnv } : {}),
      ...(options.readKeyFile === false ? { readKeyFile: false } : {}),
      ...(options.externalRedis === true ? { externalRedis: true } : {}),
    }),
  );
  if (problems.length || !parsed) throw new ConfigError(dedupe(problems));
  return deepFreeze(resolve(parsed, baseDir, options.externalRedis === true));
}

/** The parsed config (its defaults already applied by the schema) plus what depends on other keys. */
function resolve(c: ParsedConfig, baseDir: string, externalRedis: boolean): ResolvedConfig {
  const baseUrl = new URL(c.baseUrl).origin;
  const secure = baseUrl.startsWith('https:');
  const { session: s, tokens: t } = c;
  // Defaults never exceed a shorter absoluteTimeout: no session idles, and no token lives, beyond it.
  const capped = (value: number | undefined, fallback: number) => value ?? Math.min(fallback, s.absoluteTimeout);
  const keys = typeof t.keys === 'string' ? path.resolve(baseDir, t.keys) : t.keys;
  return {
    baseUrl,
    basePath: c.basePath,
    secure,
    allowInsecureRequests: c.allowInsecureRequests,
    hsts: c.hsts,
    httpTimeout: c.httpTimeout,
    baseDir,
    session: {
      secrets: typeof s.secret === 'string' ? [s.secret] : s.secret,
      store: sessionStore(s.redis, externalRedis),
      cookieName: s.cookieName ?? (secure ? '__Host-fedgate' : 'fedgate.sid'),
      idleTimeout: capped(s.idleTimeout, cappedDefaults.idleTimeout),
      absoluteTimeout: s.absoluteTimeout,
      transactionTtl: s.transactionTtl,
      cacheTtl: s.cacheTtl,
      prefix: s.redis?.prefix ?? redisDefaults.prefix,
    },
    tokens: {
      issuer: stripSlash(t.issuer ?? `${baseUrl}${c.basePath}`),
      audience: t.audience ?? baseUrl,
      ...(keys ? { keys } : {}),
      insecureEphemeralKeys: t.insecureEphemeralKeys,
      accessTokenTtl: capped(t.accessTokenTtl, cappedDefaults.accessTokenTtl),
      idTokenTtl: capped(t.idTokenTtl, cappedDefaults.idTokenTtl),
      scopes: t.scopes,
      sessionBound: t.sessionBound,
    },
    connectors: c.connectors,
    ...(c.op ? { op: c.op } : {}),
  };
}

/** How long to wait for the session store's Redis to connect, ms (0 for the memory store). */
export function storeConnectTimeout(store: SessionStoreConfig): number {
  switch (store.kind) {
    case 'redis':
      return store.redis.connectTimeout;
    case 'external':
      return store.connectTimeout;
    case 'memory':
      return 0;
  }
}

/** The store kind: the cross-field checks have made sure exactly one applies. */
function sessionStore(redis: RedisConfig | undefined, externalRedis: boolean): SessionStoreConfig {
  if (externalRedis) return { kind: 'external', connectTimeout: redis?.connectTimeout ?? redisDefaults.connectTimeout };
  return redis ? { kind: 'redis', redis } : { kind: 'memory' };
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
