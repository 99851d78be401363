import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';
import { vendorHost } from '../common/vendor-url.js';

/** Keys of the `auth0` connector. */
export const auth0Schema = z.strictObject({
  type: z.literal('auth0'),
  ...connectorBaseShape,
  domain: vendorHost.describe('Auth0 tenant domain ("dev-abc.eu.auth0.com") or custom domain, as shown in the application settings.'),
  issuer: httpUrl.optional().describe('Overrides the computed issuer "https://{domain}/" (compared exactly, trailing slash included).'),
  claimNamespace: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'Namespace of the roles/groups claims your Auth0 Action adds, e.g. "https://example.com" reads "https://example.com/roles" and "https://example.com/groups".',
    ),
  postLogoutRedirectUri: httpUrl.optional().describe('Where Auth0 sends the browser after logout (an "Allowed Logout URL"). Default baseUrl + "/".'),
});

export type Auth0Config = z.infer<typeof auth0Schema>;
