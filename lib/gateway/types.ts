import type { Redis, Cluster } from 'ioredis';
import type { Connector, ConnectorRegistry } from '../connector.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../logger.js';
import type { GatewayEvent, GatewayEventType, GatewayEvents } from '../events.js';
import type { MetricsOption } from '../metrics.js';
import type { requireAuth, RequireAuthOptions } from '../guard/require-auth.js';
import type { Next, Req, Res } from '../http/respond.js';
import type { ChooserRenderer, FedgateViews } from '../http/page.js';

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
