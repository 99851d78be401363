import type { Connector } from './connector.js';
import type { ResolvedConfig } from './config/load.js';
import type { Logger } from './logger.js';
import type { KvStore } from './redis/kv.js';
import type { CompiledMapping } from './claims/map.js';
import type { TransactionSettings } from './flow/transactions.js';
import type { TokenService } from './tokens/service.js';
import type { Req, Res } from './http/respond.js';
import type { FedgateSessionStore } from './session/store.js';
import type { Emit } from './events.js';
import type { Metrics } from './metrics.js';
import type { SessionCache } from './session/cache.js';
import type { GatewayInfo } from './guard/require-auth.js';
import type { ChooserRenderer } from './http/page.js';

export type { ChooserRenderer };

/** Everything the route handlers share; built once by the gateway (lib/gateway/context.ts), then frozen. */
export interface GatewayContext {
  readonly config: ResolvedConfig;
  readonly connectors: ReadonlyMap<string, Connector>;
  readonly mappings: ReadonlyMap<string, CompiledMapping>;
  readonly kv: KvStore;
  readonly logger: Logger;
  /** Audit events: log + onEvent + EventEmitter + metrics. */
  readonly emit: Emit;
  readonly metrics?: Metrics;
  readonly now: () => number;
  readonly tokens: TokenService;
  readonly transactions: TransactionSettings;
  readonly renderChooser?: ChooserRenderer;
  /** What `requireAuth` needs to know about this gateway (login path, metrics hook). */
  readonly gatewayInfo: GatewayInfo;
  /** The session store (Redis, or memory in development). */
  readonly store: FedgateSessionStore;
  /** In-process cache of verified session state (absent when `session.cacheTtl` is 0). */
  readonly sessionCache?: SessionCache;
  /** Runs express-session for this request (loads `req.session`). */
  readonly loadSession: (req: Req, res: Res) => Promise<void>;
  /**
   * Called with express-session ids destroyed out of band (revocation, back-channel logout,
   * logout); fans out to the listeners registered while the gateway was assembled (the session
   * cache, broker mode's logout chain).
   */
  readonly onSessionsDestroyed: (sessionIds: readonly string[]) => void;
  /** The callback URL of a connector, from configuration only. */
  redirectUri(connectorId: string): string;
}
