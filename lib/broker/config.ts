import type { OpClientConfig, OpConfig } from '../config/op.js';

/** Broker settings with every default applied. */
export interface BrokerSettings {
  clients: readonly OpClientConfig[];
  customScopes: Readonly<Record<string, readonly string[]>>;
  ttl: {
    accessToken: number;
    idToken: number;
    authorizationCode: number;
    refreshToken: number;
    interaction: number;
    grant: number;
    session: number;
  };
  sessionCheckInterval: number;
}

export const defaultClientScopes = ['openid', 'profile', 'email', 'offline_access'] as const;

export function resolveBrokerSettings(
  op: OpConfig,
  defaults: { accessTokenTtl: number; idTokenTtl: number; transactionTtl: number; absoluteTimeout: number },
): BrokerSettings {
  const t = op.ttl;
  return {
    clients: op.clients,
    customScopes: op.scopes,
    ttl: {
      accessToken: t.accessToken ?? defaults.accessTokenTtl,
      idToken: t.idToken ?? defaults.idTokenTtl,
      authorizationCode: t.authorizationCode,
      refreshToken: t.refreshToken,
      interaction: t.interaction ?? defaults.transactionTtl,
      grant: t.grant,
      session: defaults.absoluteTimeout,
    },
    sessionCheckInterval: op.sessionCheckInterval,
  };
}
