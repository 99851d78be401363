import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import type { RedisClient } from '../redis/client.js';
import { guardRedis, type RedisObserver } from '../redis/kv.js';

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
 * - Every operation runs through `guardRedis`: a Redis failure or timeout rejects with
 *   FedgateError `SESSION_STORE_UNAVAILABLE` (503), which the provider's endpoints answer as
 *   503 + `Retry-After` (`temporarily_unavailable`), never as a 500 `server_error`.
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
  readonly #observe: RedisObserver | undefined;

  constructor(name: string, client: RedisClient, prefix: string, observe: RedisObserver | undefined) {
    this.#name = name;
    this.#client = client;
    this.#prefix = prefix;
    this.#observe = observe;
  }

  #key(id: string): string {
    return `${this.#prefix}${this.#name}:${id}`;
  }

  #grantKey(grantId: string): string {
    return `${this.#prefix}grant:${grantId}`;
  }

  /** One adapter operation: a Redis failure becomes SESSION_STORE_UNAVAILABLE (503), see provider-hooks.ts. */
  #guard<T>(op: string, run: () => Promise<T>): Promise<T> {
    return guardRedis(run, `op_${op}`, this.#observe);
  }

  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    return this.#guard('upsert', () => this.#upsert(id, payload, expiresIn));
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.#guard('find', () => this.#find(id));
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#guard('find', () => this.#findIndexed(`${this.#prefix}sessionUid:${uid}`));
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#guard('find', () => this.#findIndexed(`${this.#prefix}userCode:${userCode}`));
  }

  consume(id: string): Promise<void> {
    // Epoch seconds of the wall clock, as oidc-provider's own adapters store it (`epochTime()`), not
    // FedgateOptions.now: oidc-provider only tests that `consumed` is set, and every other time in
    // the record (`iat`, `exp`) is on its own wall clock, so another clock would only mix the two.
    const at = String(Math.floor(Date.now() / 1000));
    return this.#guard('consume', async () => {
      await this.#client.eval(consumeScript, 1, this.#key(id), at);
    });
  }

  destroy(id: string): Promise<void> {
    // The uid/user-code indexes expire on their own; a dangling one finds nothing.
    return this.#guard('destroy', async () => {
      await this.#client.del(this.#key(id));
    });
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return this.#guard('revoke', async () => {
      const grantKey = this.#grantKey(grantId);
      const members = await this.#client.smembers(grantKey);
      // One DEL per key: members may live on different Cluster slots.
      await Promise.all(members.map((member) => this.#client.del(member)));
      await this.#client.del(grantKey);
    });
  }

  async #upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
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

  async #find(id: string): Promise<AdapterPayload | undefined> {
    return parse(await this.#client.hgetall(this.#key(id)));
  }

  /** A record found through an index key (session uid, user code) that holds its id. */
  async #findIndexed(indexKey: string): Promise<AdapterPayload | undefined> {
    const id = await this.#client.get(indexKey);
    return id ? this.#find(id) : undefined;
  }
}

/**
 * Builds the adapter factory oidc-provider calls once per model name.
 *
 * @param prefix key prefix, e.g. `fedgate:op:`
 * @param observe the Redis metrics hook (operations `op_upsert`, `op_find`, ...), as for the KvStore
 */
export function createRedisAdapter(client: RedisClient, prefix: string, observe?: RedisObserver): AdapterFactory {
  return (name: string) => new RedisAdapter(name, client, prefix, observe);
}
