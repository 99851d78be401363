import type { EventEmitter } from 'node:events';
import type { Broker } from '../broker/index.js';
import type { GatewayContext } from '../context.js';
import { storeConnectTimeout } from '../config/load.js';
import { FedgateError, invalidArgument } from '../errors.js';
import { requireAuth } from '../guard/require-auth.js';
import { errorBody, sendJson, type Next, type Req, type Res } from '../http/respond.js';
import type { Metrics } from '../metrics.js';
import { waitUntilReady } from '../redis/client.js';
import { connectorReady, describeStore, logReady } from '../ready-report.js';
import { destroyIndexed, indexKeys } from '../session/session-index.js';
import type { GatewayStores } from './stores.js';
import type { Gateway, GatewayHealth } from './types.js';

/** What the lifecycle methods act on. */
export interface LifecycleParts {
  ctx: GatewayContext;
  stores: GatewayStores;
  emitter: EventEmitter;
  broker: Broker | undefined;
  /** Makes the middleware answer every later request as signed out (`GATEWAY_CLOSED`). */
  markClosed(): void;
}

/** Turns the middleware function into the `Gateway`: ready, close, health, events, probes, revocation. */
export function attachLifecycle(middleware: (req: Req, res: Res, next: Next) => void, p: LifecycleParts): Gateway {
  const gateway = middleware as Gateway;
  gateway.ready = readyCheck(p);
  gateway.close = closer(p);
  gateway.health = healthCheck(p);
  gateway.requireAuth = requireAuth;
  gateway.revokeSessions = sessionRevoker(p.ctx);
  gateway.on = (type, listener) => {
    p.emitter.on(type, listener as (e: unknown) => void);
    return gateway;
  };
  gateway.off = (type, listener) => {
    p.emitter.off(type, listener as (e: unknown) => void);
    return gateway;
  };
  gateway.metrics = metricsHandler(p.ctx.metrics);
  gateway.liveness = (_req, res) => sendJson(res, 200, { status: 'ok' }, { 'Cache-Control': 'no-store' });
  gateway.readiness = (_req, res) => {
    gateway.health().then(
      (h) => sendJson(res, h.ok ? 200 : 503, h, { 'Cache-Control': 'no-store', ...(h.ok ? {} : { 'Retry-After': '5' }) }),
      () => sendJson(res, 503, { ok: false }, { 'Cache-Control': 'no-store', 'Retry-After': '5' }),
    );
  };
  Object.defineProperty(gateway, 'config', { value: p.ctx.config, enumerable: false });
  return gateway;
}

/** `gateway.ready()`: fails fast on keys, Redis, every connector's discovery and the broker. */
function readyCheck({ ctx, stores, broker }: LifecycleParts): Gateway['ready'] {
  const { config, tokens, connectors } = ctx;
  const { redis } = stores;
  let announcedReady = false;
  return async () => {
    await tokens.ready();
    const storeName = describeStore(config, redis);
    if (redis) {
      try {
        await waitUntilReady(redis, storeConnectTimeout(config.session.store) * 2);
        await redis.ping();
      } catch (err) {
        throw new FedgateError('SESSION_STORE_UNAVAILABLE', `Redis is not reachable: ${storeName}.`, { cause: err });
      }
    }
    await Promise.all([...connectors.values()].map((c) => connectorReady(config, c)));
    await broker?.ready();
    // Once per gateway: a later ready() (a retry loop, a probe) says nothing new.
    if (!announcedReady) logReady(ctx.logger, config, storeName, await tokens.keySet(), connectors.values());
    announcedReady = true;
  };
}

/** `gateway.close()`: stops serving, then closes the cache, the broker and Redis, in that order. */
function closer({ ctx, stores, broker, markClosed }: LifecycleParts): Gateway['close'] {
  return async () => {
    markClosed();
    await ctx.sessionCache?.close();
    await broker?.close();
    await stores.release();
  };
}

/** `gateway.health()`: Redis, keys and connectors; nothing secret. */
function healthCheck({ ctx, stores }: LifecycleParts): Gateway['health'] {
  const { redis } = stores;
  return async () => {
    let redisState: GatewayHealth['redis'] = 'memory';
    if (redis) {
      redisState = await redis.ping().then(
        () => 'ready' as const,
        () => 'down' as const,
      );
    }
    const keys = await ctx.tokens.ready().then(
      () => 'loaded' as const,
      () => 'failed' as const,
    );
    // Readiness probes discovery (lazy otherwise); a failed connector retries only after its backoff.
    await Promise.allSettled([...ctx.connectors.values()].map((c) => c.ready()));
    const list = [...ctx.connectors.values()].map((c) => c.status());
    return { ok: redisState !== 'down' && keys === 'loaded' && list.every((c) => c.state !== 'failed'), redis: redisState, keys, connectors: list };
  };
}

/** `gateway.revokeSessions({ sub })`: ends every session of a local subject, on every instance. */
function sessionRevoker(ctx: GatewayContext): Gateway['revokeSessions'] {
  return async ({ sub }) => {
    if (typeof sub !== 'string' || !sub) throw invalidArgument('revokeSessions: sub must be a non-empty string');
    const count = await destroyIndexed(ctx, indexKeys.localSub(sub));
    ctx.emit('session.revoked', { sub, sessions: count });
    return count;
  };
}

/** `gateway.metrics`: the Prometheus exposition, 404 when metrics are off. */
function metricsHandler(metrics: Metrics | undefined): Gateway['metrics'] {
  return (req, res) => {
    if (!metrics) {
      sendJson(res, 404, errorBody('NOT_FOUND', 'Metrics are not enabled.'));
      return;
    }
    metrics.handler(req, res);
  };
}
