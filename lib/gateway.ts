import { EventEmitter } from 'node:events';
import type { Redis, Cluster } from 'ioredis';
import type session from 'express-session';
import { anonymous } from './auth.js';
import type { Connector, ConnectorRegistry } from './connector.js';
import type { GatewayContext } from './context.js';
import { loadConfig, type ResolvedConfig } from './config/load.js';
import type { ConfigInput } from './config/schema.js';
import { compileMapping, type CompiledMapping } from './claims/map.js';
import { FedgateError, invalidArgument, toFedgateError } from './errors.js';
import { createDefaultLogger, guardLogger, type Logger } from './logger.js';
import { createMemoryKv, createRedisKv, type KvStore } from './redis/kv.js';
import { createRedisClient, attachErrorLogging, waitUntilReady, type RedisClient } from './redis/client.js';
import { FedgateMemoryStore, FedgateRedisStore } from './session/store.js';
import { createSessionMiddleware, sessionLoader } from './session/lifecycle.js';
import { createTokenService } from './tokens/service.js';
import { resolveAuth, resolveAuthFast } from './guard/resolve.js';
import { gatewayInfo, requireAuth, type RequireAuthOptions } from './guard/require-auth.js';
import { sendError, type Next, type Req, type Res } from './http/respond.js';
import { hstsHeader } from './http/hygiene.js';
import { createRouter } from './router.js';
import { createSealer } from './flow/sealed.js';
import { createBroker } from './broker/index.js';
import { destroyIndexed, indexKeys } from './session/session-index.js';
import { createSessionCache } from './session/cache.js';
import { createEmitter, type GatewayEvent, type GatewayEventType, type GatewayEvents } from './events.js';
import { createMetrics, instrumentFetch, type GuardOutcome, type MetricsOption } from './metrics.js';
import { sendJson } from './http/respond.js';
import { connectorReady, describeStore, logReady } from './ready-report.js';
import { errorNextKey, type ChooserRenderer, type FedgateViews } from './http/page.js';

/** What JSON cannot carry. */
export interface FedgateOptions {
  /** An existing ioredis client or cluster; fedgate does not close it. */
  redis?: Redis | Cluster;
  /** A pino-compatible logger. Default: warnings and errors to stderr as JSON lines. */
  logger?: Logger;
  /** Injected fetch for upstream calls. */
  fetch?: typeof fetch;
  /** Injected clock, epoch ms. */
  now?: () => number;
  /** Variables for `${env:NAME}`. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: process.env.NODE_ENV. */
  nodeEnv?: string;
  /** Custom connector chooser page. */
  renderChooser?: ChooserRenderer;
  /** Receives every audit event (also available as `gateway.on(type, listener)`). */
  onEvent?: (event: GatewayEvent) => void;
  /** Prometheus metrics through the optional peer dependency prom-client; serve them with `gateway.metrics`. */
  metrics?: MetricsOption;
  /** Extra connector types (type → factory), next to the built-in ones. */
  connectorTypes?: ConnectorRegistry;
  /** Renders fedgate's pages (error, 403, chooser, consent, consents, sign-out) in the app's own layout. */
  views?: FedgateViews;
  /**
   * `'next'`: errors of fedgate's routes and requireAuth's 403 go to Express's error handler as
   * the coded FedgateError (`err.code`, `err.status`) instead of fedgate's page or JSON.
   * Default `'page'`.
   */
  errorHandler?: 'page' | 'next';
}

/** Readiness of the gateway's dependencies; reveals nothing secret. */
export interface GatewayHealth {
  ok: boolean;
  redis: 'ready' | 'down' | 'memory';
  keys: 'loaded' | 'failed';
  connectors: ReturnType<Connector['status']>[];
}

/** The Express middleware returned by `fedgate()`, with its lifecycle methods. */
export interface Gateway {
  (req: Req, res: Res, next: Next): void;
  /** Fails fast: keys, Redis and every connector's discovery. */
  ready(): Promise<void>;
  /** Closes what the gateway opened (its Redis connections). */
  close(): Promise<void>;
  /** Readiness report. */
  health(): Promise<GatewayHealth>;
  requireAuth(options?: RequireAuthOptions): ReturnType<typeof requireAuth>;
  /** Subscribes to an audit event type. */
  on<K extends GatewayEventType>(type: K, listener: (event: { type: K; time: string; requestId?: string } & GatewayEvents[K]) => void): Gateway;
  off<K extends GatewayEventType>(type: K, listener: (event: { type: K; time: string; requestId?: string } & GatewayEvents[K]) => void): Gateway;
  /** Mountable handler: Prometheus exposition (404 when metrics are off). */
  metrics: (req: Req, res: Res) => void;
  /** Mountable handler: liveness, always 200 while the process serves. */
  liveness: (req: Req, res: Res) => void;
  /** Mountable handler: readiness (Redis, keys, connectors) as JSON, 200 or 503; nothing secret. */
  readiness: (req: Req, res: Res) => void;
  /** Ends every session of a local subject, on every instance; resolves to how many were found. */
  revokeSessions(target: { sub: string }): Promise<number>;
  readonly config: ResolvedConfig;
}

/** Builds the gateway. Synchronous: invalid config throws ConfigError; nothing connects yet but Redis. */
export function createGateway(input: string | ConfigInput, options: FedgateOptions, registry: ConnectorRegistry): Gateway {
  const logger = options.logger ? guardLogger(options.logger) : createDefaultLogger();
  const now = options.now ?? Date.now;
  const nodeEnv = options.nodeEnv ?? process.env.NODE_ENV;
  const allTypes = new Map([...registry, ...(options.connectorTypes ?? [])]);
  const config = loadConfig(input, { registry: allTypes, env: options.env ?? process.env, externalRedis: options.redis !== undefined, ...(nodeEnv !== undefined ? { nodeEnv } : {}) });

  const metrics = createMetrics(options.metrics);
  let redis: RedisClient | undefined;
  let ownsRedis = false;
  let detachErrorLogging: (() => void) | undefined;
  let store: session.Store;
  let kv: KvStore;
  const timeouts = { idleTimeout: config.session.idleTimeout, absoluteTimeout: config.session.absoluteTimeout, transactionTtl: config.session.transactionTtl };
  if (config.session.memoryStore && !options.redis) {
    logger.warn({ event: 'insecure.memory_store' }, 'INSECURE: sessions are kept in process memory (session.insecureMemoryStore). Development only: they vanish on restart and are not shared between instances.');
    store = new FedgateMemoryStore();
    kv = createMemoryKv(now);
  } else {
    if (options.redis) {
      // The app's own client: fedgate adds a listener, never changes its options, never closes it.
      redis = options.redis;
      detachErrorLogging = attachErrorLogging(redis, logger);
    } else {
      redis = createRedisClient(config.session.redis!, logger);
      ownsRedis = true;
    }
    store = new FedgateRedisStore(redis, `${config.session.prefix}sess:`, timeouts, now);
    kv = createRedisKv(redis, config.session.prefix, metrics?.redis);
  }
  const emitter = new EventEmitter();
  // An 'error'-typed listener is never needed: events carry no 'error' type, so emit never throws.
  const emit = createEmitter(logger, [
    ...(options.onEvent ? [options.onEvent] : []),
    (event) => {
      emitter.emit(event.type, event);
    },
    ...(metrics ? [metrics.onEvent] : []),
  ]);
  if (config.allowInsecureRequests) logger.warn({ event: 'insecure.requests' }, 'INSECURE: allowInsecureRequests is on (http upstreams allowed). Development only.');

  const connectorCtx = {
    fetch: options.fetch ?? globalThis.fetch,
    logger,
    onStatusChange: (status: ReturnType<Connector['status']>) => {
      if (status.state === 'failed') emit('connector.unavailable', { connector: status.id, code: status.error ?? 'UPSTREAM_UNAVAILABLE' });
      else if (status.state === 'ready') emit('connector.recovered', { connector: status.id });
    },
    now,
    allowInsecureRequests: config.allowInsecureRequests,
    httpTimeout: config.httpTimeout,
    baseUrl: config.baseUrl,
  };
  const connectors = new Map<string, Connector>();
  const mappings = new Map<string, CompiledMapping>();
  for (const c of config.connectors) {
    const type = allTypes.get(c.type);
    if (!type) throw new FedgateError('CONFIG_INVALID', `Unknown connector type "${c.type}"`);
    const connector = type.create(c, {
      ...connectorCtx,
      fetch: instrumentFetch(connectorCtx.fetch, c.id, metrics),
      basePath: config.basePath,
      baseDir: config.baseDir,
      // Per-connector namespace: a connector's replay guard can never collide with the core's keys.
      store: { setIfAbsent: (key, value, ttl) => kv.setIfAbsent(`c:${c.id}:${key}`, value, ttl) },
    });
    connectors.set(connector.id, connector);
    mappings.set(connector.id, compileMapping(connector.claims));
  }

  const sessionCache = config.session.cacheTtl > 0
    ? createSessionCache({ ttlMs: config.session.cacheTtl * 1000, ...(redis ? { redis } : {}), channel: `${config.session.prefix}invalidate`, logger })
    : undefined;
  const tokens = createTokenService(config, { logger, now, ...(nodeEnv !== undefined ? { nodeEnv } : {}) });
  const sessionMw = createSessionMiddleware(config, store);
  const hsts = hstsHeader(config.secure, config.hsts);
  const errorsToNext = options.errorHandler === 'next';
  const info = {
    basePath: config.basePath,
    origin: config.baseUrl,
    ...(hsts !== undefined ? { hsts } : {}),
    pages: { homeUrl: `${config.baseUrl}/`, basePath: config.basePath, errorsToNext, ...(options.views ? { views: options.views } : {}) },
    ...(metrics ? { observe: (outcome: GuardOutcome) => metrics.guard(outcome) } : {}),
  };
  const ctx: GatewayContext = {
    config,
    connectors,
    mappings,
    kv,
    logger,
    emit,
    ...(metrics ? { metrics } : {}),
    now,
    tokens,
    gatewayInfo: info,
    store,
    ...(sessionCache ? { sessionCache } : {}),
    transactions: {
      kv,
      ttl: config.session.transactionTtl,
      cookieName: config.secure ? '__Host-fedgate-tx' : 'fedgate.tx',
      // __Host- cookies must have Path=/.
      cookiePath: config.secure ? '/' : config.basePath,
      pendingPrefix: config.secure ? '__Secure-fedgate-login.' : 'fedgate.login.',
      pendingPath: config.basePath,
      secure: config.secure,
      sealer: createSealer(config.session.secrets, 'pending login v1'),
      now,
    },
    ...(options.renderChooser ? { renderChooser: options.renderChooser } : {}),
    loadSession: sessionLoader(sessionMw as unknown as (req: Req, res: Res, next: Next) => void, metrics?.redis),
    redirectUri: (id) => `${config.baseUrl}${config.basePath}/callback/${encodeURIComponent(id)}`,
  };
  // Sessions destroyed out of band (revocation, back-channel logout, logout) leave every instance's cache.
  ctx.onSessionsDestroyed = (ids) => sessionCache?.invalidate(ids);
  // Broker mode (op.enabled): fedgate as an OpenID Provider for client apps; undefined when off.
  // After the line above: it chains onto ctx.onSessionsDestroyed for its logout chain.
  const broker = createBroker(ctx, redis);
  const route = createRouter(ctx);
  let closed = false;

  const gateway = function fedgateMiddleware(req: Req, res: Res, next: Next): void {
    if (closed) {
      (req as unknown as Record<symbol, unknown>)[gatewayInfo] = info;
      (req as { auth?: unknown }).auth = anonymous({ code: 'GATEWAY_CLOSED', status: 503 });
      next();
      return;
    }
    // Cache hits (session or bearer) on app routes are answered synchronously.
    // Fast-path Auth objects carry the gateway info themselves (see withGatewayInfo): one property
    // less to add to every request object on the hot path.
    const fast = resolveAuthFast(ctx, req);
    if (fast) {
      (req as { auth?: unknown }).auth = fast;
      next();
      return;
    }
    (req as unknown as Record<symbol, unknown>)[gatewayInfo] = info;
    if (errorsToNext) (req as unknown as Record<symbol, unknown>)[errorNextKey] = next;
    resolveAuth(ctx, req, res)
      .then((auth) => {
        (req as { auth?: unknown }).auth = auth;
        return route(req, res);
      })
      .then((handled) => {
        if (handled) return;
        // Past the gateway, the app's own next (requireAuth's) handles errors.
        if (errorsToNext) delete (req as unknown as Record<symbol, unknown>)[errorNextKey];
        next();
      })
      .catch((err: unknown) => {
        const e = toFedgateError(err);
        logger.error({ event: 'gateway.error', code: e.code, detail: e.detail, err: e.cause instanceof Error ? e.cause.message.slice(0, 200) : undefined }, 'Gateway failure');
        if (!res.headersSent) sendError(req, res, e.code === 'INTERNAL_ERROR' ? new FedgateError('INTERNAL_ERROR', 'Internal error') : e);
      });
  } as Gateway;

  let announcedReady = false;
  gateway.ready = async () => {
    await tokens.ready();
    const storeName = describeStore(config, redis, !ownsRedis);
    if (redis) {
      try {
        await waitUntilReady(redis, (config.session.redis?.connectTimeout ?? 2000) * 2);
        await redis.ping();
      } catch (err) {
        throw new FedgateError('SESSION_STORE_UNAVAILABLE', `Redis is not reachable: ${storeName}.`, { cause: err });
      }
    }
    await Promise.all([...connectors.values()].map((c) => connectorReady(config, c)));
    await broker?.ready();
    // Once per gateway: a later ready() (a retry loop, a probe) says nothing new.
    if (!announcedReady) logReady(logger, config, storeName, await tokens.keySet(), connectors.values());
    announcedReady = true;
  };
  gateway.close = async () => {
    closed = true;
    await sessionCache?.close();
    await broker?.close();
    detachErrorLogging?.();
    detachErrorLogging = undefined;
    if (redis && ownsRedis) {
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    }
  };
  gateway.health = async () => {
    let redisState: GatewayHealth['redis'] = 'memory';
    if (redis) {
      redisState = await redis.ping().then(() => 'ready' as const, () => 'down' as const);
    }
    const keys = await tokens.ready().then(() => 'loaded' as const, () => 'failed' as const);
    // Readiness probes discovery (lazy otherwise); a failed connector retries only after its backoff.
    await Promise.allSettled([...connectors.values()].map((c) => c.ready()));
    const list = [...connectors.values()].map((c) => c.status());
    return { ok: redisState !== 'down' && keys === 'loaded' && list.every((c) => c.state !== 'failed'), redis: redisState, keys, connectors: list };
  };
  gateway.requireAuth = requireAuth;
  gateway.revokeSessions = async ({ sub }) => {
    if (typeof sub !== 'string' || !sub) throw invalidArgument('revokeSessions: sub must be a non-empty string');
    const count = await destroyIndexed(ctx, indexKeys.localSub(sub));
    emit('session.revoked', { sub, sessions: count });
    return count;
  };
  gateway.on = (type, listener) => {
    emitter.on(type, listener as (e: unknown) => void);
    return gateway;
  };
  gateway.off = (type, listener) => {
    emitter.off(type, listener as (e: unknown) => void);
    return gateway;
  };
  gateway.metrics = (req, res) => {
    if (!metrics) {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    metrics.handler(req, res);
  };
  gateway.liveness = (_req, res) => sendJson(res, 200, { status: 'ok' }, { 'Cache-Control': 'no-store' });
  gateway.readiness = (_req, res) => {
    gateway.health().then(
      (h) => sendJson(res, h.ok ? 200 : 503, h, { 'Cache-Control': 'no-store', ...(h.ok ? {} : { 'Retry-After': '5' }) }),
      () => sendJson(res, 503, { ok: false }, { 'Cache-Control': 'no-store', 'Retry-After': '5' }),
    );
  };
  Object.defineProperty(gateway, 'config', { value: config, enumerable: false });
  return gateway;
}
