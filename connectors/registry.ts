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
  [oidcConnector.type, oidcConnector],
  [auth0Connector.type, auth0Connector],
  [oktaConnector.type, oktaConnector],
  [cognitoConnector.type, cognitoConnector],
  [keycloakConnector.type, keycloakConnector],
  [entrustConnector.type, entrustConnector],
  [azureAdConnector.type, azureAdConnector],
  [azureB2cConnector.type, azureB2cConnector],
  [githubConnector.type, githubConnector],
  [samlConnector.type, samlConnector],
]);
