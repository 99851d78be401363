/**
 * fedgate: a drop-in Express middleware federation gateway.
 *
 * @example
 * const gateway = fedgate('./gateway.json');
 * app.use(gateway);
 * app.get('/dashboard', requireAuth(), handler);
 */
import { createGateway, type FedgateOptions, type Gateway } from './lib/gateway.js';
import type { ConfigInput } from './lib/config/schema.js';
import { builtinConnectors } from './connectors/registry.js';
import { checkFedgateOptions } from './lib/gateway/options.js';

/**
 * Creates the gateway middleware from a JSON config file path or a config object.
 * Synchronous; throws a ConfigError listing every problem with its path, and a TypeError with
 * `code: 'INVALID_ARGUMENT'` for an unknown or mistyped option.
 */
export function fedgate(config: string | ConfigInput, options: FedgateOptions = {}): Gateway {
  checkFedgateOptions(options);
  return createGateway(config, options, builtinConnectors);
}

export { requireAuth } from './lib/guard/require-auth.js';
export type { RequireAuthOptions } from './lib/guard/require-auth.js';
export { FedgateError, ConfigError, errorCodes } from './lib/errors.js';
export type { ErrorCode, ConfigProblem } from './lib/errors.js';
export type { Auth } from './lib/auth.js';
export type { Gateway, FedgateOptions, GatewayHealth } from './lib/gateway.js';
export type { ConfigInput } from './lib/config/schema.js';
export type { Logger } from './lib/logger.js';
export type { GatewayEvent, GatewayEvents, GatewayEventType } from './lib/events.js';
export type { MetricsOption } from './lib/metrics.js';
export type {
  Connector,
  ConnectorType,
  ConnectorConfig,
  ConnectorContext,
  ConnectorRegistry,
  ConnectorStatus,
  ConnectorState,
  ConnectorStore,
  BeginLoginInput,
  BeginLoginResult,
  CompleteLoginInput,
  UpstreamIdentity,
  UpstreamTokens,
  RefreshInput,
  LogoutInput,
  LogoutTokenClaims,
  Refreshable,
  UpstreamLogout,
  LogoutTokenVerifier,
  FormPostCallback,
  PostedCallback,
  EndpointProvider,
  ConnectorEndpoint,
  EndpointRequest,
  EndpointResponse,
} from './lib/connector.js';
export {
  LoginRestartRequest,
  defineConnectorType,
  canRefresh,
  logsOutUpstream,
  verifiesLogoutTokens,
  acceptsFormPost,
  providesEndpoints,
} from './lib/connector.js';
export { connectorBaseShape, connectorBaseSchema } from './lib/config/connector-base.js';
export type { ConnectorBaseConfig } from './lib/config/connector-base.js';
export type { ClaimMapping } from './lib/claims/schema.js';
export { sanitizeReturnTo } from './lib/flow/return-to.js';
export { builtinConnectors } from './connectors/registry.js';
export type {
  FedgateViews,
  ViewBase,
  PageForm,
  ErrorViewContext,
  ForbiddenViewContext,
  ChooserViewContext,
  ConsentViewContext,
  ConsentPermission,
  ConsentsViewContext,
  LogoutConfirmViewContext,
} from './lib/http/page.js';
export { authOf, isAuthenticated, withAuth } from './lib/auth.js';
export type { AuthenticatedAuth, AuthenticatedRequest } from './lib/auth.js';
