import { z } from 'zod';
import { connectorBaseShape, httpUrl } from '../../lib/config/connector-base.js';

/** A directory (tenant) id. */
export const tenantGuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Tenants whose discovery issuer is the `{tenantid}` template (https://github.com/panva/wellknown/blob/HEAD/issuers/entra-common/entra-common.mjs). */
export const multiTenantValues = ['common', 'organizations'] as const;

/** Keys of the `azure-ad` connector (Microsoft Entra ID, v2 endpoint). */
export const azureAdSchema = z.strictObject({
  type: z.literal('azure-ad'),
  ...connectorBaseShape,
  tenant: z
    .string()
    .regex(
      /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|common|organizations|consumers|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)$/i,
      'must be a tenant id (GUID), a verified domain, "common", "organizations" or "consumers"',
    )
    .describe('Directory (tenant) id, a verified domain, or "common"/"organizations" for multi-tenant apps (then allowedTenants is required).'),
  allowedTenants: z
    .array(z.string().regex(tenantGuid, 'must be a tenant id (GUID)'))
    .min(1)
    .max(1000)
    .optional()
    .describe('Tenant ids (`tid`) allowed to sign in. Required with tenant "common" or "organizations".'),
  authority: httpUrl.optional().describe('Base URL of the Microsoft identity platform. Default https://login.microsoftonline.com (national clouds, tests).'),
  issuer: httpUrl.optional().describe('Overrides the expected issuer. Default {authority}/{tenant}/v2.0, or the {tenantid} template for multi-tenant.'),
  groupsOverage: z
    .enum(['graph', 'ignore'])
    .optional()
    .describe(
      'What to do when the ID token has too many groups (`_claim_names.groups`): "graph" pages Microsoft Graph transitiveMemberOf; default "ignore" (no groups).',
    ),
  graphBaseUrl: httpUrl.optional().describe('Microsoft Graph base URL for groupsOverage. Default https://graph.microsoft.com.'),
  postLogoutRedirectUri: httpUrl.optional().describe('Where Microsoft sends the browser after logout (registered there). Default baseUrl + "/".'),
});

export type AzureAdConfig = z.infer<typeof azureAdSchema>;
