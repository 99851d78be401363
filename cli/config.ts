import { describeRedisConfig } from '../lib/ready-report.js';
import { builtinConnectors } from '../connectors/registry.js';
import type { ConnectorContext } from '../lib/connector.js';
import { buildConnector, type BuiltConnector } from '../lib/build-connectors.js';
import { loadConfig, type ResolvedConfig } from '../lib/config/load.js';
import { ConfigError, FedgateError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Io } from './io.js';

/** A logger that keeps warnings for the report and drops the rest. */
export function collectingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return { warnings, debug: noop, info: noop, warn: (_obj, msg) => warnings.push(msg ?? 'warning'), error: (_obj, msg) => warnings.push(msg ?? 'error') };
}

/**
 * Loads a config file with the real loader and the built-in connector types. `readKeyFile: false`
 * skips reading `tokens.keys` (for commands that never sign with it).
 */
export function loadConfigFile(file: string, env: Readonly<Record<string, string | undefined>>, options: { readKeyFile?: boolean } = {}): ResolvedConfig {
  return loadConfig(file, {
    registry: builtinConnectors,
    env,
    ...(process.env.NODE_ENV !== undefined ? { nodeEnv: process.env.NODE_ENV } : {}),
    ...(options.readKeyFile === false ? { readKeyFile: false } : {}),
  });
}

/** Prints every problem of a ConfigError as `path: message`; rethrows anything else. */
export function printConfigError(err: unknown, io: Io): void {
  if (err instanceof ConfigError) {
    for (const p of err.problems) io.out(`${p.path}: ${p.message}`);
    return;
  }
  throw err;
}

/** Connector context for work that must not touch the network (`fedgate map`, offline checks). */
export function offlineContext(config: ResolvedConfig, logger: Logger): ConnectorContext {
  const offlineFetch: typeof fetch = () => Promise.reject(new FedgateError('UPSTREAM_UNAVAILABLE', 'offline: no network in this command'));
  return {
    fetch: offlineFetch,
    logger,
    now: Date.now,
    allowInsecureRequests: config.allowInsecureRequests,
    httpTimeout: config.httpTimeout,
    baseUrl: config.baseUrl,
    basePath: config.basePath,
    baseDir: config.baseDir,
  };
}

/**
 * Builds one connector exactly as the gateway does (same registry, same factory, same effective
 * claim mapping, compiled: a mapping that cannot compile throws here as it would at startup).
 */
export function createConnector(config: ResolvedConfig, index: number, ctx: ConnectorContext): BuiltConnector {
  return buildConnector(config.connectors[index]!, builtinConnectors, ctx);
}

/** `redis://user:pass@host:6379/0` → `host:6379`: never print credentials. */
export function describeRedis(config: ResolvedConfig): string {
  const { store } = config.session;
  if (store.kind === 'memory') return 'in-process memory (session.insecureMemoryStore: development only)';
  // The CLI loads configs without an app, so never 'external'; named for completeness.
  return store.kind === 'redis' ? describeRedisConfig(store.redis) : "the app's own client (options.redis)";
}
