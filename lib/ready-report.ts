import type { Connector } from './connector.js';
import type { ResolvedConfig } from './config/load.js';
import type { RedisConfig } from './config/schema.js';
import { FedgateError, toFedgateError } from './errors.js';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis/client.js';
import type { KeySet } from './tokens/keys.js';

/**
 * Where the session store lives, for messages: `redis 10.0.0.5:6379`, never the URL (it may
 * carry a password).
 */
export function describeStore(config: ResolvedConfig, client: RedisClient | undefined): string {
  const { store } = config.session;
  if (store.kind === 'memory') return 'memory (session.insecureMemoryStore, development only)';
  if (store.kind === 'redis') return describeRedisConfig(store.redis);
  if (client && 'isCluster' in client && client.isCluster) return 'redis cluster (client passed in options.redis)';
  const o = (client as { options?: { host?: unknown; port?: unknown } } | undefined)?.options;
  return typeof o?.host === 'string' ? `redis ${o.host}:${String(o.port ?? 6379)} (client passed in options.redis)` : 'redis (client passed in options.redis)';
}

/** A Redis configuration for messages: host and port (or the Sentinel or Cluster nodes), never the URL's credentials. */
export function describeRedisConfig(r: RedisConfig): string {
  if ('url' in r) {
    try {
      const u = new URL(r.url);
      return `redis ${u.protocol === 'rediss:' ? '(TLS) ' : ''}${u.hostname}:${u.port || '6379'}`;
    } catch {
      return 'redis (url)';
    }
  }
  if ('sentinels' in r) return `redis sentinel "${r.name}" (${r.sentinels.map((s) => `${s.host}:${s.port}`).join(', ')})`;
  return `redis cluster (${r.cluster.map((n) => `${n.host}:${n.port}`).join(', ')})`;
}

/** The configured issuer of a connector, when it has one (OIDC types); for messages only. */
function issuerOf(config: ResolvedConfig, id: string): string | undefined {
  const issuer = config.connectors.find((c) => c.id === id)?.['issuer'];
  return typeof issuer === 'string' ? issuer : undefined;
}

/**
 * Runs a connector's discovery; a failure keeps its code and gains the connector's id and
 * issuer in its message, so a failed `ready()` says which upstream to look at.
 */
export async function connectorReady(config: ResolvedConfig, connector: Connector): Promise<void> {
  try {
    await connector.ready();
  } catch (err) {
    const e = toFedgateError(err);
    const issuer = issuerOf(config, connector.id);
    throw new FedgateError(e.code, `Connector "${connector.id}"${issuer ? ` (${issuer})` : ''}: ${e.message}`, {
      status: e.status,
      cause: e.cause ?? err,
      ...(e.detail !== undefined ? { detail: e.detail } : {}),
    });
  }
}

/**
 * Logs the one `gateway.ready` info line: connectors and their issuers, the session store, the
 * public signing key ids and whether broker mode is on. Nothing secret: no URL credentials, no
 * client secrets, no key material.
 */
export function logReady(logger: Logger, config: ResolvedConfig, store: string, keySet: KeySet, connectors: Iterable<Connector>): void {
  const list = [...connectors].map((c) => ({ id: c.id, type: c.status().type, ...(issuerOf(config, c.id) ? { issuer: issuerOf(config, c.id) } : {}) }));
  const kids = keySet.publicJwks.keys.map((k) => String(k.kid));
  const broker = config.op?.enabled === true;
  const clients = broker ? (config.op?.clients ?? []).map((c) => c.client_id) : [];
  const text = [
    `fedgate ready at ${config.baseUrl}${config.basePath}`,
    `connectors ${list.map((c) => `${c.id} (${c.type}${c.issuer ? ` ${c.issuer}` : ''})`).join(', ')}`,
    `store ${store}`,
    `signing key ${keySet.signing.kid}${kids.length > 1 ? ` (published: ${kids.join(', ')})` : ''}`,
    `broker mode ${broker ? `on (${clients.length} client${clients.length === 1 ? '' : 's'})` : 'off'}`,
  ].join('; ');
  logger.info({ event: 'gateway.ready', connectors: list, store, signingKid: keySet.signing.kid, kids, broker, ...(broker ? { clients } : {}) }, text);
}
