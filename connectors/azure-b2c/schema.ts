import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';

const policyName = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a user flow or custom policy name, e.g. "B2C_1_signupsignin"');

/** Keys of the `azure-b2c` connector (Azure AD B2C user flows and custom policies). */
export const azureB2cSchema = z.strictObject({
  type: z.literal('azure-b2c'),
  ...connectorBaseShape,
  tenant: z
    .string()
    .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/i, 'must be the tenant name without ".onmicrosoft.com", e.g. "contoso"')
    .describe('Tenant name, the "contoso" of contoso.onmicrosoft.com and contoso.b2clogin.com.'),
  tenantId: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be the tenant id (GUID)')
    .describe('Directory (tenant) id; part of the issuer https://{tenant}.b2clogin.com/{tenantId}/v2.0/.'),
  policy: policyName.describe('The sign-in (or sign-up-or-sign-in) user flow or custom policy.'),
  passwordResetPolicy: policyName.optional().describe('Password-reset user flow; when set, "Forgot your password?" (AADB2C90118) restarts the login with it.'),
  authority: httpUrl.optional().describe('Base URL of the B2C endpoints. Default https://{tenant}.b2clogin.com (custom domains, tests).'),
  issuer: httpUrl.optional().describe('Overrides the expected issuer. Default {authority}/{tenantId}/v2.0/ (trailing slash kept).'),
  postLogoutRedirectUri: httpUrl.optional().describe('Where B2C sends the browser after logout (registered there). Default baseUrl + "/".'),
});

export type AzureB2cConfig = z.infer<typeof azureB2cSchema>;
