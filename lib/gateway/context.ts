import type { GatewayContext } from '../context.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Emit } from '../events.js';
import type { Logger } from '../logger.js';
import type { GuardOutcome, Metrics } from '../metrics.js';
import type { GatewayInfo } from '../guard/require-auth.js';
import { hstsHeader } from '../http/hygiene.js';
import { createSealer } from '../flow/sealed.js';
import type { TransactionSettings } from '../flow/transactions.js';
import { createSessionCache, type SessionCache } from '../session/cache.js';
import { createSessionMiddleware, sessionLoader } from '../session/lifecycle.js';
import { createTokenService } from '../tokens/service.js';
import type { RedisClient } from '../redis/client.js';
import type { GatewayConnectors } from './connectors.js';
import type { GatewayStores } from './stores.js';
import type { FedgateOptions } from './types.js';

/** The in-process session cache; undefined when `session.cacheTtl` is 0. */
export function createCache(config: ResolvedConfig, redis: RedisClient | undefined, logger: Logger): SessionCache | undefined {
  if (config.session.cacheTtl <= 0) return undefined;
  return createSessionCache({ ttlMs: config.session.cacheTtl * 1000, ...(redis ? { redis } : {}), channel: `${config.session.prefix}invalidate`, logger });
}

/** What `requireAuth` and fedgate's pages need to know about this gateway. */
export function createGatewayInfo(config: ResolvedConfig, options: FedgateOptions, metrics: Metrics | undefined): GatewayInfo {
  const hsts = hstsHeader(config.secure, config.hsts);
  return {
    basePath: config.basePath,
    origin: config.baseUrl,
    ...(hsts !== undefined ? { hsts } : {}),
    pages: {
      homeUrl: `${config.baseUrl}/`,
      basePath: config.basePath,
      errorsToNext: options.errorHandler === 'next',
      ...(options.views ? { views: options.views } : {}),
    },
    ...(metrics ? { observe: (outcome: GuardOutcome) => metrics.guard(outcome) } : {}),
  };
}

/** Cookie names and paths of pending logins; `__Host-` cookies when the origin is https. */
function transactionSettings(config: ResolvedConfig, stores: GatewayStores, now: () => number): TransactionSettings {
  return {
    kv: stores.kv,
    ttl: config.session.transactionTtl,
    cookieName: config.secure ? '__Host-fedgate-tx' : 'fedgate.tx',
    // __Host- cookies must have Path=/.
    cookiePath: config.secure ? '/' : config.basePath,
    pendingPrefix: config.secure ? '__Secure-fedgate-login.' : 'fedgate.login.',
    pendingPath: config.basePath,
    secure: config.secure,
    sealer: createSealer(config.session.secrets, 'pending login v1'),
    now,
  };
}

/** The parts the context is assembled from, each built by its own step. */
export interface ContextParts extends GatewayConnectors {
  config: ResolvedConfig;
  options: FedgateOptions;
  logger: Logger;
  now: () => number;
  nodeEnv: string | undefined;
  metrics: Metrics | undefined;
  stores: GatewayStores;
  emit: Emit;
  info: GatewayInfo;
  sessionCache: SessionCache | undefined;
  /** Fans a session end out to every registered listener. */
  onSessionsDestroyed: (sessionIds: readonly string[]) => void;
}

/** Builds the frozen context every route handler shares (it also creates the token service). */
export function createGatewayContext(p: ContextParts): GatewayContext {
  const { config, metrics, stores, now } = p;
  const sessionMw = createSessionMiddleware(config, stores.store);
  return Object.freeze({
    config,
    connectors: p.connectors,
    mappings: p.mappings,
    kv: stores.kv,
    logger: p.logger,
    emit: p.emit,
    ...(metrics ? { metrics } : {}),
    now,
    tokens: createTokenService(config, { logger: p.logger, now, ...(p.nodeEnv !== undefined ? { nodeEnv: p.nodeEnv } : {}) }),
    gatewayInfo: p.info,
    store: stores.store,
    ...(p.sessionCache ? { sessionCache: p.sessionCache } : {}),
    transactions: transactionSettings(config, stores, now),
    ...(p.options.renderChooser ? { renderChooser: p.options.renderChooser } : {}),
    loadSession: sessionLoader(sessionMw, metrics?.redis),
    onSessionsDestroyed: p.onSessionsDestroyed,
    redirectUri: (id: string) => `${config.baseUrl}${config.basePath}/callback/${encodeURIComponent(id)}`,
  });
}
