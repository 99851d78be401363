import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type { RedisClient } from '../redis/client.js';

/**
 * oidc-provider storage on the gateway's ioredis client.
 *
 * - Every key has a TTL: the model's own expiry, or {@link fallbackTtlSeconds} when oidc-provider
 *   gives none (it does not for the models broker mode uses, but a key must never live forever).
 * - Every command and script touches exactly one key, so the adapter runs unchanged on Redis
 *   Cluster: a record is a hash (`p` = JSON payload, `c` = consumed-at), written by a one-key
 *   script; the grant, uid and user-code indexes are separate keys with their own TTLs.
 * - `consume` marks a record without rewriting its JSON, so single-use codes and rotated refresh
 *   tokens are detected (oidc-provider then revokes the whole grant).
 */

/** Models whose records belong to a grant and die with it (`revokeByGrantId`). */
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

/** Used only if oidc-provider ever stores a record without an expiry. */
export const fallbackTtlSeconds = 14 * 86_400;

const upsertScript = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'p', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

// HSET on a missing key would create one without a TTL: only mark records that exist.
const consumeScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'c', ARGV[1])
  return 1
end
return 0`;

// A grant index lives as long as its longest-lived member.
const indexAddScript = `
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1`;

function ttlOf(expiresIn: number | undefined): number {
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) return fallbackTtlSeconds;
  return Math.max(1, Math.ceil(expiresIn));
}

function parse(raw: Record<string, string>): AdapterPayload | undefined {
  if (typeof raw.p !== 'string') return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(raw.p);
  } catch {
    return undefined;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const out = payload as AdapterPayload;
  if (raw.c !== undefined) out.consumed = Number(raw.c);
  return out;
}

class RedisAdapter implements Adapter {
  readonly #name: string;
  readonly #client: RedisClient;
  readonly #prefix: string;

  constructor(name: string, client: RedisClient, prefix: string) {
    this.#name = name;
    this.#client = client;
    this.#prefix = prefix;
  }

  #key(id: string): string {
    return `${this.#prefix}${this.#name}:${id}`;
  }

  #grantKey(grantId: string): string {
    return `${this.#prefix}grant:${grantId}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    const ttl = ttlOf(expiresIn);
    await this.#client.eval(upsertScript, 1, key, JSON.stringify(payload), String(ttl));
    if (grantable.has(this.#name) && typeof payload.grantId === 'string') {
      await this.#client.eval(indexAddScript, 1, this.#grantKey(payload.grantId), key, String(ttl));
    }
    if (this.#name === 'Session' && typeof payload.uid === 'string') {
      await this.#client.set(`${this.#prefix}sessionUid:${payload.uid}`, id, 'EX', ttl);
    }
    if (typeof payload.userCode === 'string') {
      await this.#client.set(`${this.#prefix}userCode:${payload.userCode}`, id, 'EX', ttl);
    }
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const raw = await this.#client.hgetall(this.#key(id));
    return parse(raw);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#client.get(`${this.#prefix}sessionUid:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#client.get(`${this.#prefix}userCode:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async consume(id: string): Promise<void> {
    await this.#client.eval(consumeScript, 1, this.#key(id), String(Math.floor(Date.now() / 1000)));
  }

  async destroy(id: string): Promise<void> {
    // The uid/user-code indexes expire on their own; a dangling one finds nothing.
    await this.#client.del(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.#grantKey(grantId);
    const members = await this.#client.smembers(grantKey);
    // One DEL per key: members may live on different Cluster slots.
    await Promise.all(members.map((member) => this.#client.del(member)));
    await this.#client.del(grantKey);
  }
}

/**
 * Builds the adapter factory oidc-provider calls once per model name.
 *
 * @param prefix key prefix, e.g. `fedgate:op:`
 */
export function createRedisAdapter(client: RedisClient, prefix: string): AdapterFactory {
  return (name: string) => new RedisAdapter(name, client, prefix);
}
