import type { ResolvedConfig } from '../config/load.js';
import { FedgateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createMemoryKv, createRedisKv, type KvStore } from '../redis/kv.js';
import { createRedisClient, attachErrorLogging, type RedisClient } from '../redis/client.js';
import { FedgateMemoryStore, FedgateRedisStore, type FedgateSessionStore } from '../session/store.js';
import type { FedgateOptions } from './types.js';

/** Where the gateway keeps its state: the session store and the key-value store, on one backend. */
export interface GatewayStores {
  readonly store: FedgateSessionStore;
  readonly kv: KvStore;
  /** The Redis client; absent in memory-store development mode. */
  readonly redis?: RedisClient;
  /** Whether fedgate created the client (and so closes it). */
  readonly ownsRedis: boolean;
  /** Lets go of Redis: detaches the listener added to the app's client, quits fedgate's own. */
  release(): Promise<void>;
}

/**
 * Chooses the backend: memory (development, `session.insecureMemoryStore`), the app's own Redis
 * client (`options.redis`) or a client fedgate creates from `session.redis`.
 */
export function createStores(
  config: ResolvedConfig,
  options: FedgateOptions,
  deps: { logger: Logger; now: () => number; metrics: Metrics | undefined },
): GatewayStores {
  const { logger, now } = deps;
  const timeouts = { idleTimeout: config.session.idleTimeout, absoluteTimeout: config.session.absoluteTimeout, transactionTtl: config.session.transactionTtl };
  const sessionStore = config.session.store;
  if (sessionStore.kind === 'memory') {
    logger.warn(
      { event: 'insecure.memory_store' },
      'INSECURE: sessions are kept in process memory (session.insecureMemoryStore). Development only: they vanish on restart and are not shared between instances.',
    );
    return { store: new FedgateMemoryStore(timeouts, now), kv: createMemoryKv(now), ownsRedis: false, release: () => Promise.resolve() };
  }
  let redis: RedisClient;
  let detachErrorLogging: (() => void) | undefined;
  if (sessionStore.kind === 'redis') {
    redis = createRedisClient(sessionStore.redis, logger);
  } else if (options.redis) {
    // 'external': the app's own client. fedgate adds a listener, never changes its options, never closes it.
    redis = options.redis;
    detachErrorLogging = attachErrorLogging(redis, logger);
  } else {
    // loadConfig chooses 'external' only when options.redis is set.
    throw new FedgateError('INTERNAL_ERROR', 'session store "external" without options.redis');
  }
  const ownsRedis = sessionStore.kind === 'redis';
  return {
    store: new FedgateRedisStore(redis, `${config.session.prefix}sess:`, timeouts, now),
    kv: createRedisKv(redis, config.session.prefix, deps.metrics?.redis),
    redis,
    ownsRedis,
    async release() {
      detachErrorLogging?.();
      detachErrorLogging = undefined;
      if (!ownsRedis) return;
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
