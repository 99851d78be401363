import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';
import { vendorHost } from '../common/vendor-url.js';

/** Keys of the `okta` connector. */
export const oktaSchema = z.strictObject({
  type: z.literal('okta'),
  ...connectorBaseShape,
  domain: vendorHost.describe('Okta org domain, e.g. "acme.okta.com" (or a custom domain).'),
  authorizationServer: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an authorization server id such as "default"')
    .optional()
    .describe('Custom authorization server id ("default" or "aus..."); omit for the org authorization server.'),
  issuer: httpUrl.optional().describe('Overrides the computed issuer "https://{domain}" or "https://{domain}/oauth2/{authorizationServer}".'),
  postLogoutRedirectUri: httpUrl.optional().describe('Where Okta sends the browser after logout (a "Sign-out redirect URI"). Default baseUrl + "/".'),
});

export type OktaConfig = z.infer<typeof oktaSchema>;
