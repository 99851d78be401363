import type { ConnectorRegistry } from './connector.js';
import { loadConfig, type ResolvedConfig } from './config/load.js';
import type { ConfigInput } from './config/schema.js';
import { createDefaultLogger, guardLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createRouter } from './router.js';
import { createBroker } from './broker/index.js';
import { createStores } from './gateway/stores.js';
import { createEvents } from './gateway/events.js';
import { connectorContext, createConnectors } from './gateway/connectors.js';
import { createSessionEndListeners } from './gateway/session-ends.js';
import { createCache, createGatewayContext, createGatewayInfo } from './gateway/context.js';
import { createMiddleware } from './gateway/middleware.js';
import { attachLifecycle } from './gateway/lifecycle.js';
import type { FedgateOptions, Gateway } from './gateway/types.js';

export type { FedgateOptions, Gateway, GatewayHealth } from './gateway/types.js';

/**
 * Builds the gateway (the composition root). Synchronous: invalid config throws ConfigError;
 * nothing connects yet but Redis. Each step is handed what the earlier steps built, so the order
 * is carried by the arguments, not by comments.
 */
export function createGateway(input: string | ConfigInput, options: FedgateOptions, registry: ConnectorRegistry): Gateway {
  const { config, logger, now, nodeEnv, allTypes } = loadGatewayConfig(input, options, registry);
  const metrics = createMetrics(options.metrics);
  const stores = createStores(config, options, { logger, now, metrics });
  const { emit, emitter } = createEvents(options, logger, metrics);
  if (config.allowInsecureRequests)
    logger.warn({ event: 'insecure.requests' }, 'INSECURE: allowInsecureRequests is on (http upstreams allowed). Development only.');
  const { connectors, mappings } = createConnectors(config, allTypes, connectorContext(config, options, { logger, now, emit }), stores.kv, metrics);

  const sessionCache = createCache(config, stores.redis, logger);
  // Sessions destroyed out of band (revocation, back-channel logout, logout) leave every instance's cache.
  const sessionEnds = createSessionEndListeners(sessionCache ? [(ids) => sessionCache.invalidate(ids)] : []);
  const info = createGatewayInfo(config, options, metrics);
  const ctx = createGatewayContext({
    config,
    options,
    logger,
    now,
    nodeEnv,
    metrics,
    stores,
    emit,
    info,
    sessionCache,
    connectors,
    mappings,
    onSessionsDestroyed: (ids) => sessionEnds.notify(ids),
  });
  // Broker mode (op.enabled): fedgate as an OpenID Provider for client apps; undefined when off.
  const broker = createBroker(ctx, { ...(stores.redis ? { redis: stores.redis } : {}), onSessionsEnded: sessionEnds.add });
  sessionEnds.seal();

  let closed = false;
  const middleware = createMiddleware(ctx, createRouter(ctx, broker), () => closed, options.errorHandler === 'next');
  return attachLifecycle(middleware, {
    ctx,
    stores,
    emitter,
    broker,
    markClosed: () => {
      closed = true;
    },
  });
}

/** The validated, frozen configuration, with the logger, clock and connector types it was loaded with. */
function loadGatewayConfig(
  input: string | ConfigInput,
  options: FedgateOptions,
  registry: ConnectorRegistry,
): {
  config: ResolvedConfig;
  logger: Logger;
  now: () => number;
  nodeEnv: string | undefined;
  allTypes: ConnectorRegistry;
} {
  const logger = options.logger ? guardLogger(options.logger) : createDefaultLogger();
  const now = options.now ?? Date.now;
  const nodeEnv = options.nodeEnv ?? process.env.NODE_ENV;
  const allTypes = new Map([...registry, ...(options.connectorTypes ?? [])]);
  const config = loadConfig(input, {
    registry: allTypes,
    env: options.env ?? process.env,
    externalRedis: options.redis !== undefined,
    ...(nodeEnv !== undefined ? { nodeEnv } : {}),
  });
  return { config, logger, now, nodeEnv, allTypes };
}
