import type Provider from 'oidc-provider';
import type { BrokerRuntime } from './runtime.js';

/** One consent, as the consents page shows it. */
export interface ConsentEntry {
  clientId: string;
  scopes: string[];
  /** Resource scopes by resource identifier. */
  resources: Record<string, string[]>;
}

/**
 * Ends every token issued under a grant: refresh tokens and unused codes are deleted; JWT access
 * tokens are not stored, so fedgate's userinfo refuses them through the grant check instead.
 */
export async function revokeGrantTokens(provider: Provider, grantId: string): Promise<void> {
  await Promise.all([
    provider.AccessToken.revokeByGrantId(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AuthorizationCode.revokeByGrantId(grantId),
  ]);
}

/** The live consents of a user; index entries whose grant is gone are cleaned up. */
export async function listConsents(rt: BrokerRuntime, sub: string): Promise<ConsentEntry[]> {
  const provider = await rt.provider();
  const out: ConsentEntry[] = [];
  for (const clientId of await rt.records.grantedClients(sub)) {
    const grantId = await rt.records.grantIdFor(sub, clientId);
    const grant = grantId ? await provider.Grant.find(grantId) : undefined;
    if (!grant || grant.accountId !== sub || grant.clientId !== clientId || !rt.clients.has(clientId)) {
      await rt.records.forgetGrant(sub, clientId);
      continue;
    }
    const resources: Record<string, string[]> = {};
    for (const [resource, scope] of Object.entries(grant.resources ?? {})) {
      const list = scope.split(' ').filter(Boolean);
      if (list.length) resources[resource] = list;
    }
    out.push({ clientId, scopes: grant.getOIDCScope().split(' ').filter(Boolean), resources });
  }
  return out;
}

/**
 * Withdraws a user's consent to a client: the grant and every token issued under it end, so the
 * client must ask again (the consent page comes back). Returns whether a consent existed.
 */
export async function withdrawConsent(rt: BrokerRuntime, sub: string, clientId: string): Promise<boolean> {
  const provider = await rt.provider();
  const grantId = await rt.records.grantIdFor(sub, clientId);
  let found = false;
  if (grantId) {
    const grant = await provider.Grant.find(grantId);
    if (grant && grant.accountId === sub && grant.clientId === clientId) {
      found = true;
      await revokeGrantTokens(provider, grantId);
      await grant.destroy();
    }
  }
  await rt.records.forgetGrant(sub, clientId);
  if (found) rt.ctx.logger.info({ event: 'broker.consent_withdrawn', client: clientId }, 'Consent withdrawn');
  return found;
}
