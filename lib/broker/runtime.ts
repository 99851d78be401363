import type Provider from 'oidc-provider';
import type { GatewayContext } from '../context.js';
import type { RedisClient } from '../redis/client.js';
import type { Auth } from '../auth.js';
import type { Req } from '../http/respond.js';
import type { OpClientConfig } from '../config/op.js';
import type { BrokerSettings } from './config.js';
import type { ScopeClaims } from './claims-filter.js';
import type { BrokerRecords } from './records.js';

/** What every broker-mode module shares; built once by `createBroker`. */
export interface BrokerRuntime {
  readonly ctx: GatewayContext;
  readonly settings: BrokerSettings;
  /** Scope → claims table (standard scopes plus `op.scopes`). */
  readonly table: ScopeClaims;
  readonly records: BrokerRecords;
  readonly clients: ReadonlyMap<string, OpClientConfig>;
  /** The raw Redis client, when sessions live in Redis (absent in memory-store development mode). */
  readonly redis?: RedisClient;
  /** The provider, built on first use (it needs the loaded keys). */
  provider(): Promise<Provider>;
}

/** `aud` (and RFC 8707 resource indicator) of a client's access tokens. */
export function audienceOf(rt: BrokerRuntime, clientId: string): string {
  return rt.clients.get(clientId)?.audience ?? rt.ctx.config.tokens.audience;
}

/** Display name of a client. */
export function clientName(rt: BrokerRuntime, clientId: string): string {
  return rt.clients.get(clientId)?.client_name ?? clientId;
}

/** The signed-in fedgate session principal of a request (never a bearer token). */
export function sessionPrincipal(req: Req): { sub: string; claims: Readonly<Record<string, unknown>>; auth: Auth } | undefined {
  const auth = req.auth as Auth | undefined;
  if (!auth?.isAuthenticated || auth.via !== 'session' || !auth.sub) return undefined;
  return { sub: auth.sub, claims: auth.claims, auth };
}

/** Scopes a client may hold for its resource (the local `tokens.scopes` it lists). */
export function resourceScopesOf(rt: BrokerRuntime, clientId: string): string[] {
  const local = Object.keys(rt.ctx.config.tokens.scopes);
  const listed = rt.clients.get(clientId)?.scopes ?? [];
  return local.filter((s) => listed.includes(s));
}
