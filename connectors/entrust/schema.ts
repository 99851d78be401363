import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';
import { vendorHost } from '../common/vendor-url.js';

/** Asymmetric algorithms an Entrust application may sign userinfo with. */
export const entrustUserinfoAlgs = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;

const claimName = z.string().min(1).max(256);

/** Keys of the `entrust` connector. */
export const entrustSchema = z.strictObject({
  type: z.literal('entrust'),
  ...connectorBaseShape,
  domain: vendorHost.describe('Entrust IDaaS tenant domain, "{tenant}.{region}.trustedauth.com" (region us, ie or de).'),
  issuer: httpUrl.optional().describe('Overrides the computed issuer "https://{domain}/api/oidc".'),
  groupsClaim: claimName
    .optional()
    .describe('Name of the custom claim holding group membership (defined in the application\'s "Claims" section). Default "groups".'),
  rolesClaim: claimName.optional().describe('Name of a custom claim holding roles. Default: none.'),
  userinfoSignedResponseAlg: z
    .enum(entrustUserinfoAlgs)
    .optional()
    .describe('The application\'s "User Info Signing Algorithm": when set, only a userinfo JWT signed with it is accepted.'),
  postLogoutRedirectUri: httpUrl.optional().describe('Where Entrust sends the browser after logout (a "Logout Redirect URI"). Default baseUrl + "/".'),
});

export type EntrustConfig = z.infer<typeof entrustSchema>;
