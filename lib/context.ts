import type { Connector } from './connector.js';
import type { ResolvedConfig } from './config/load.js';
import type { Logger } from './logger.js';
import type { KvStore } from './redis/kv.js';
import type { CompiledMapping } from './claims/map.js';
import type { TransactionSettings } from './flow/transactions.js';
import type { TokenService } from './tokens/service.js';
import type { Req, Res } from './http/respond.js';
import type session from 'express-session';

/** Renders the connector chooser; apps may supply their own. Must escape what it prints. */
export type ChooserRenderer = (input: { connectors: ReadonlyArray<{ id: string; name: string; loginUrl: string }>; returnTo: string; formAction: string }) => string;

/** Everything the route handlers share; built once by the gateway. */
export interface GatewayContext {
  readonly config: ResolvedConfig;
  readonly connectors: ReadonlyMap<string, Connector>;
  readonly mappings: ReadonlyMap<string, CompiledMapping>;
  readonly kv: KvStore;
  readonly logger: Logger;
  readonly now: () => number;
  readonly tokens: TokenService;
  readonly transactions: TransactionSettings;
  readonly renderChooser?: ChooserRenderer;
  /** The session store (Redis, or memory in development). */
  readonly store: session.Store;
  /** Runs express-session for this request (loads `req.session`). */
  readonly loadSession: (req: Req, res: Res) => Promise<void>;
  /** Called with express-session ids destroyed out of band (revocation, back-channel logout). */
  onSessionsDestroyed?: (sessionIds: readonly string[]) => void;
  /** The callback URL of a connector, from configuration only. */
  redirectUri(connectorId: string): string;
}
