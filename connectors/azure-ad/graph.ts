import { FedgateError } from '../../lib/errors.js';
import { translateUpstreamError } from '../common/errors.js';

/** Pages of 100 followed at most; 10 pages = 1000 ids, the mapping's array cap (maxClaimArrayItems). */
export const maxGraphPages = 10;

export interface GraphGroupsInput {
  graphBaseUrl: string;
  /** The upstream access token (Graph audience). Opaque: sent as is, never parsed or verified. */
  accessToken: string;
  fetch: (url: string, options: RequestInit) => Promise<Response>;
  timeoutMs: number;
}

/**
 * Resolves Entra group overage (https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/app-integration/get-signed-in-users-groups-in-access-token, https://github.com/oauth2-proxy/oauth2-proxy/blob/HEAD/providers/ms_entra_id.go): when the ID token
 * carries `_claim_names.groups` instead of `groups`, pages
 * `GET {graph}/v1.0/me/transitiveMemberOf?$select=id&$top=100` with `ConsistencyLevel: eventual`,
 * following `@odata.nextLink`. The endpoint in `_claim_sources` is never followed (it is
 * upstream-controlled and would receive the token); `nextLink` must stay on the Graph origin.
 * The access token stays opaque: Graph tokens carry a header `nonce` and never verify (https://github.com/AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet/issues/609).
 */
export async function fetchGraphGroups(input: GraphGroupsInput): Promise<string[]> {
  const base = new URL(input.graphBaseUrl);
  const root = input.graphBaseUrl.replace(/\/+$/, '');
  let next: string | undefined = `${root}/v1.0/me/transitiveMemberOf?$select=id&$top=100`;
  const ids: string[] = [];
  for (let page = 0; next !== undefined; page += 1) {
    if (page >= maxGraphPages)
      throw new FedgateError('CLAIMS_INVALID', 'The user belongs to too many groups to resolve.', { detail: `more than ${maxGraphPages} Graph pages` });
    let res: Response;
    try {
      res = await input.fetch(next, {
        headers: { authorization: `Bearer ${input.accessToken}`, consistencylevel: 'eventual', accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(input.timeoutMs),
      });
    } catch (err) {
      throw translateUpstreamError(err, 'userinfo');
    }
    if (res.status >= 500 || res.status === 429)
      throw new FedgateError('UPSTREAM_UNAVAILABLE', 'Microsoft Graph is not reachable right now.', { detail: `graph ${res.status}` });
    if (res.status !== 200) throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'Microsoft Graph refused the group lookup.', { detail: `graph ${res.status}` });
    let body: unknown;
    try {
      body = await res.json();
    } catch (err) {
      throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'Microsoft Graph sent an invalid response.', { detail: 'graph body is not JSON', cause: err });
    }
    const record = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
    if (!Array.isArray(record.value))
      throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'Microsoft Graph sent an invalid response.', { detail: 'graph value is not an array' });
    for (const item of record.value) {
      const id = item && typeof item === 'object' ? (item as Record<string, unknown>).id : undefined;
      if (typeof id === 'string' && id.length <= 64) ids.push(id);
    }
    const link = record['@odata.nextLink'];
    next = undefined;
    if (typeof link === 'string') {
      const url = new URL(link, base);
      if (url.origin !== base.origin)
        throw new FedgateError('UPSTREAM_RESPONSE_INVALID', 'Microsoft Graph sent an invalid response.', { detail: 'nextLink leaves the Graph origin' });
      next = url.href;
    }
  }
  return [...new Set(ids)];
}
