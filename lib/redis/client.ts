import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';

export type RedisClient = Redis | Cluster;

/**
 * Creates the ioredis client with fail-fast settings: bounded connect and command timeouts and
 * no offline queue, so a dead or paused Redis yields errors within seconds instead of hanging
 * requests; reconnection is automatic with a capped backoff.
 */
export function createRedisClient(cfg: RedisConfig, logger: Logger): RedisClient {
  // Without replyMapping: ioredis 6's constructor does not accept RedisOptions' `replyMapping?: ... | undefined`
  // under exactOptionalPropertyTypes; fedgate uses the default (legacy) replies.
  const common: Omit<RedisOptions, 'replyMapping'> = {
    // Queue only until the first connection (see failFastAfterFirstConnect), then fail fast.
    enableOfflineQueue: true,
    commandTimeout: cfg.commandTimeout,
    connectTimeout: cfg.connectTimeout,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 4), 1000),
    ...(cfg.username ? { username: cfg.username } : {}),
    ...(cfg.password ? { password: cfg.password } : {}),
    ...(cfg.tls ? { tls: {} } : {}),
  };
  let client: RedisClient;
  if ('url' in cfg) {
    client = new Redis(cfg.url, common);
  } else if ('sentinels' in cfg) {
    client = new Redis({ ...common, sentinels: cfg.sentinels, name: cfg.name, ...(cfg.db !== undefined ? { db: cfg.db } : {}) });
  } else {
    client = new Cluster(cfg.cluster, {
      enableOfflineQueue: true,
      // ioredis manages the node connections' queues itself; the cluster-level switch governs routing.
      redisOptions: (({ enableOfflineQueue: _q, retryStrategy: _r, ...rest }) => rest)(common),
      clusterRetryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 4), 1000),
    });
  }
  attachErrorLogging(client, logger);
  failFastAfterFirstConnect(client);
  return client;
}

/**
 * Commands issued while the very first connection is being made (app start) wait for it, bounded
 * by connectTimeout; once connected, the offline queue is switched off so that a Redis that goes
 * away makes commands fail at once (503) instead of piling up.
 */
function failFastAfterFirstConnect(client: RedisClient): void {
  client.once('ready', () => {
    client.options.enableOfflineQueue = false;
  });
}

/** Resolves when the client is connected, or rejects after `timeoutMs`. */
export function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error('Redis did not become ready in time'));
    }, timeoutMs);
    timer.unref();
    function onReady() {
      clearTimeout(timer);
      resolve();
    }
    client.once('ready', onReady);
  });
}

/**
 * Without an 'error' listener ioredis errors would crash the process; log them, rate-limited.
 * Returns the detach function (a client the app owns outlives the gateway).
 */
export function attachErrorLogging(client: RedisClient, logger: Logger): () => void {
  let last = 0;
  const listener = (err: unknown) => {
    const now = Date.now();
    if (now - last < 5000) return;
    last = now;
    const message = err instanceof Error ? err.message : 'unknown error';
    logger.warn({ event: 'redis.error', err: message.slice(0, 200) }, 'Redis error');
  };
  client.on('error', listener);
  return () => {
    client.off('error', listener);
  };
}
