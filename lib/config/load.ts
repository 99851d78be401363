import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { ConnectorRegistry } from '../connector.js';
import { substituteEnv } from './env.js';
import type { OpConfig } from '../broker/config.js';
import { buildConfigSchema, type ParsedConfig, type PrivateJwks, type RedisConfig, type ScopeRule } from './schema.js';
import { crossChecks, defaults, stripSlash } from './cross-checks.js';
import { protoKeyProblems, readConfigFile } from './file.js';
import { validateSections } from './view.js';
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
  problems.push(...crossChecks(view, { registry: options.registry, baseDir, ...(options.nodeEnv !== undefined ? { nodeEnv: options.nodeEnv } : {}), ...(options.readKeyFile === false ? { readKeyFile: false } : {}), ...(options.externalRedis === true ? { externalRedis: true } : {}) }));
  if (problems.length || !parsed) throw new ConfigError(dedupe(problems));
  return deepFreeze(resolve(parsed, baseDir));
}

function resolve(c: ParsedConfig, baseDir: string): ResolvedConfig {
  const baseUrl = new URL(c.baseUrl).origin;
  const basePath = c.basePath ?? '/auth';
  const secure = baseUrl.startsWith('https:');
  const secrets = typeof c.session.secret === 'string' ? [c.session.secret] : c.session.secret;
  // Defaults never exceed a shorter absoluteTimeout: no session idles, and no token lives, beyond it.
  const absoluteTimeout = c.session.absoluteTimeout ?? defaults.absoluteTimeout;
  const capped = (value: number | undefined, fallback: number) => value ?? Math.min(fallback, absoluteTimeout);
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
      idleTimeout: capped(c.session.idleTimeout, defaults.idleTimeout),
      absoluteTimeout,
      transactionTtl: c.session.transactionTtl ?? 600,
      cacheTtl: c.session.cacheTtl ?? 1,
      prefix: c.session.redis?.prefix ?? 'fedgate:',
    },
    tokens: {
      issuer: stripSlash(c.tokens?.issuer ?? `${baseUrl}${basePath}`),
      audience: c.tokens?.audience ?? baseUrl,
      ...(keys ? { keys } : {}),
      insecureEphemeralKeys: c.tokens?.insecureEphemeralKeys ?? false,
      accessTokenTtl: capped(c.tokens?.accessTokenTtl, defaults.accessTokenTtl),
      idTokenTtl: capped(c.tokens?.idTokenTtl, defaults.idTokenTtl),
      scopes: c.tokens?.scopes ?? {},
      sessionBound: c.tokens?.sessionBound ?? false,
    },
    connectors: c.connectors,
    ...(c.op ? { op: c.op } : {}),
  };
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

