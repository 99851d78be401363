import type { ConnectorRegistry, ConnectorType } from '../lib/connector.js';
import { oidcConnector } from './oidc/index.js';

/** The built-in connector types; `lib/` never imports them, the package entry does. */
export const builtinConnectors: ConnectorRegistry = new Map<string, ConnectorType>([
  [oidcConnector.type, oidcConnector as unknown as ConnectorType],
]);
