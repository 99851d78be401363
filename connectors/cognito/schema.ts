import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';
import { vendorHost } from '../common/vendor-url.js';

/** Keys of the `cognito` connector. */
export const cognitoSchema = z.strictObject({
  type: z.literal('cognito'),
  ...connectorBaseShape,
  region: z
    .string()
    .regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'must be an AWS region such as "eu-west-1"')
    .describe('AWS region of the user pool.'),
  userPoolId: z
    .string()
    .regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}_[0-9A-Za-z]{1,55}$/, 'must be a user pool id such as "eu-west-1_AbCdEf123"')
    .describe('User pool id, e.g. "eu-west-1_AbCdEf123".'),
  domain: vendorHost.describe('Hosted UI / managed login domain, e.g. "myapp.auth.eu-west-1.amazoncognito.com" or a custom domain; hosts /logout.'),
  issuer: httpUrl.optional().describe('Overrides the computed issuer "https://cognito-idp.{region}.amazonaws.com/{userPoolId}".'),
  postLogoutRedirectUri: httpUrl.optional().describe('Sent as `logout_uri`; must be one of the app client\'s "Allowed sign-out URLs". Default baseUrl + "/".'),
});

export type CognitoConfig = z.infer<typeof cognitoSchema>;
