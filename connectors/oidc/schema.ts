import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';

/** Keys of the generic `oidc` connector. */
export const oidcSchema = z.strictObject({
  type: z.literal('oidc'),
  ...connectorBaseShape,
  issuer: httpUrl.describe('Issuer identifier; discovery at {issuer}/.well-known/openid-configuration, compared exactly.'),
  postLogoutRedirectUri: httpUrl.optional().describe('Where the upstream sends the browser after logout (registered there). Default baseUrl + "/".'),
});

export type OidcConfig = z.infer<typeof oidcSchema>;
