import type { ConnectorRegistry, ConnectorType } from '../lib/connector.js';
import { oidcConnector } from './oidc/index.js';
import { auth0Connector } from './auth0/index.js';
import { oktaConnector } from './okta/index.js';
import { cognitoConnector } from './cognito/index.js';
import { keycloakConnector } from './keycloak/index.js';
import { entrustConnector } from './entrust/index.js';
import { azureAdConnector } from './azure-ad/index.js';
import { azureB2cConnector } from './azure-b2c/index.js';
import { githubConnector } from './github/index.js';
import { samlConnector } from './saml/index.js';

/** The built-in connector types; `lib/` never imports them, the package entry does. */
export const builtinConnectors: ConnectorRegistry = new Map<string, ConnectorType>([
  [oidcConnector.type, oidcConnector as unknown as ConnectorType],
  [auth0Connector.type, auth0Connector as unknown as ConnectorType],
  [oktaConnector.type, oktaConnector as unknown as ConnectorType],
  [cognitoConnector.type, cognitoConnector as unknown as ConnectorType],
  [keycloakConnector.type, keycloakConnector as unknown as ConnectorType],
  [entrustConnector.type, entrustConnector as unknown as ConnectorType],
  [azureAdConnector.type, azureAdConnector as unknown as ConnectorType],
  [azureB2cConnector.type, azureB2cConnector as unknown as ConnectorType],
  [githubConnector.type, githubConnector as unknown as ConnectorType],
  [samlConnector.type, samlConnector as unknown as ConnectorType],
]);
