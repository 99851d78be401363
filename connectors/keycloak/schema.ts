import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';

/** Keys of the `keycloak` connector. */
export const keycloakSchema = z.strictObject({
  type: z.literal('keycloak'),
  ...connectorBaseShape,
  url: httpUrl.describe('Keycloak base URL, e.g. "https://sso.example.com"; include the legacy "/auth" prefix when your server has one.'),
  realm: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^/?#\s]+$/, 'must be a realm name without "/", "?", "#" or spaces')
    .describe('Realm name.'),
  issuer: httpUrl.optional().describe('Overrides the computed issuer "{url}/realms/{realm}".'),
  rolesFromAccessToken: z
    .boolean()
    .optional()
    .describe(
      'When the ID token carries no realm_access/resource_access, verify the access token (realm JWKS, azp = clientId) and read roles there. Default true.',
    ),
  postLogoutRedirectUri: httpUrl
    .optional()
    .describe('Where Keycloak sends the browser after logout ("Valid post logout redirect URIs"). Default baseUrl + "/".'),
});

export type KeycloakConfig = z.infer<typeof keycloakSchema>;
