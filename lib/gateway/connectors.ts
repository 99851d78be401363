import type { Connector, ConnectorContext, ConnectorRegistry } from '../connector.js';
import type { ResolvedConfig } from '../config/load.js';
import type { CompiledMapping } from '../claims/map.js';
import { buildConnectors } from '../build-connectors.js';
import type { Emit } from '../events.js';
import type { Logger } from '../logger.js';
import { instrumentFetch, type Metrics } from '../metrics.js';
import type { KvStore } from '../redis/kv.js';
import type { FedgateOptions } from './types.js';

/** The configured connectors by id, with their compiled claim mappings. */
export interface GatewayConnectors {
  readonly connectors: ReadonlyMap<string, Connector>;
  readonly mappings: ReadonlyMap<string, CompiledMapping>;
}

/** What every connector gets from the gateway; discovery state changes become audit events. */
export function connectorContext(config: ResolvedConfig, options: FedgateOptions, deps: { logger: Logger; now: () => number; emit: Emit }): ConnectorContext {
  const { emit } = deps;
  return {
    fetch: options.fetch ?? globalThis.fetch,
    logger: deps.logger,
    onStatusChange: (status: ReturnType<Connector['status']>) => {
      if (status.state === 'failed') emit('connector.unavailable', { connector: status.id, code: status.error ?? 'UPSTREAM_UNAVAILABLE' });
      else if (status.state === 'ready') emit('connector.recovered', { connector: status.id });
    },
    now: deps.now,
    allowInsecureRequests: config.allowInsecureRequests,
    httpTimeout: config.httpTimeout,
    baseUrl: config.baseUrl,
  };
}

/** Creates every configured connector through its type's factory (built-in or `options.connectorTypes`). */
export function createConnectors(
  config: ResolvedConfig,
  allTypes: ConnectorRegistry,
  connectorCtx: ConnectorContext,
  kv: KvStore,
  metrics: Metrics | undefined,
): GatewayConnectors {
  return buildConnectors(config, allTypes, (c) => ({
    ...connectorCtx,
    fetch: instrumentFetch(connectorCtx.fetch, c.id, metrics),
    basePath: config.basePath,
    baseDir: config.baseDir,
    // Per-connector namespace: a connector's replay guard can never collide with the core's keys.
    store: { setIfAbsent: (key, value, ttl) => kv.setIfAbsent(`c:${c.id}:${key}`, value, ttl) },
  }));
}
