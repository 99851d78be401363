import { FedgateError } from '../errors.js';
import type { RedisClient } from './client.js';

/**
 * The small key-value surface fedgate needs besides sessions (login transactions, replay
 * guards, locks). Redis in production; an in-memory version for development only.
 * Every write carries a TTL.
 */
export interface KvStore {
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Atomic get-and-delete: the basis of single-use transactions. */
  take(key: string): Promise<string | null>;
  get(key: string): Promise<string | null>;
  /** SET NX EX: true when the key was absent and is now set. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Adds to a set and (re)sets the set's TTL. */
  addToSet(key: string, member: string, ttlSeconds: number): Promise<void>;
  removeFromSet(key: string, member: string): Promise<void>;
  members(key: string): Promise<string[]>;
  /** Deletes `key` only while it still holds `value` (lock release). */
  delIfEquals(key: string, value: string): Promise<boolean>;
  /** Extends the TTL of `key` only while it still holds `value` (lock lease renewal). */
  expireIfEquals(key: string, value: string, ttlMs: number): Promise<boolean>;
}

const delIfEqualsScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const expireIfEqualsScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

/** Any Redis failure becomes SESSION_STORE_UNAVAILABLE (503 + Retry-After), never a crash. */
export type RedisObserver = (op: string, seconds: number, ok: boolean) => void;

async function guard<T>(op: () => Promise<T>, name = 'kv', observe?: RedisObserver): Promise<T> {
  const started = observe ? performance.now() : 0;
  try {
    const result = await op();
    observe?.(name, (performance.now() - started) / 1000, true);
    return result;
  } catch (err) {
    observe?.(name, (performance.now() - started) / 1000, false);
    throw new FedgateError('SESSION_STORE_UNAVAILABLE', 'The session store is unavailable; please try again shortly.', { cause: err, ...(err instanceof Error ? { detail: err.message.slice(0, 200) } : {}) });
  }
}

export function createRedisKv(client: RedisClient, prefix: string, observe?: RedisObserver): KvStore {
  const kv: KvStore = {
    async set(key, value, ttl) {
      await client.set(prefix + key, value, 'EX', ttl);
    },
    async take(key) {
      return client.getdel(prefix + key);
    },
    async get(key) {
      return client.get(prefix + key);
    },
    async setIfAbsent(key, value, ttl) {
      return (await client.set(prefix + key, value, 'EX', ttl, 'NX')) === 'OK';
    },
    async del(key) {
      await client.del(prefix + key);
    },
    async addToSet(key, member, ttl) {
      const res = await client.multi().sadd(prefix + key, member).expire(prefix + key, ttl).exec();
      const err = res?.find(([e]) => e)?.[0];
      if (!res || err) throw err ?? new Error('MULTI aborted');
    },
    async removeFromSet(key, member) {
      await client.srem(prefix + key, member);
    },
    async members(key) {
      return client.smembers(prefix + key);
    },
    async delIfEquals(key, value) {
      return (await client.eval(delIfEqualsScript, 1, prefix + key, value)) === 1;
    },
    async expireIfEquals(key, value, ttlMs) {
      return (await client.eval(expireIfEqualsScript, 1, prefix + key, value, String(ttlMs))) === 1;
    },
  };
  return {
    set: (k, v, t) => guard(() => kv.set(k, v, t), 'set', observe),
    take: (k) => guard(() => kv.take(k), 'getdel', observe),
    get: (k) => guard(() => kv.get(k), 'get', observe),
    setIfAbsent: (k, v, t) => guard(() => kv.setIfAbsent(k, v, t), 'setnx', observe),
    del: (k) => guard(() => kv.del(k), 'del', observe),
    addToSet: (k, m, t) => guard(() => kv.addToSet(k, m, t), 'sadd', observe),
    removeFromSet: (k, m) => guard(() => kv.removeFromSet(k, m), 'srem', observe),
    members: (k) => guard(() => kv.members(k), 'smembers', observe),
    delIfEquals: (k, v) => guard(() => kv.delIfEquals(k, v), 'unlock', observe),
    expireIfEquals: (k, v, t) => guard(() => kv.expireIfEquals(k, v, t), 'renew', observe),
  };
}

export function createMemoryKv(now: () => number = Date.now): KvStore {
  const data = new Map<string, { value: string; expires: number }>();
  const sets = new Map<string, { members: Set<string>; expires: number }>();
  const liveSet = (key: string) => {
    const e = sets.get(key);
    if (e && e.expires <= now()) {
      sets.delete(key);
      return undefined;
    }
    return e;
  };
  const live = (key: string) => {
    const e = data.get(key);
    if (!e) return undefined;
    if (e.expires <= now()) {
      data.delete(key);
      return undefined;
    }
    return e;
  };
  return {
    async set(key, value, ttl) {
      data.set(key, { value, expires: now() + ttl * 1000 });
    },
    async take(key) {
      const e = live(key);
      data.delete(key);
      return e?.value ?? null;
    },
    async get(key) {
      return live(key)?.value ?? null;
    },
    async setIfAbsent(key, value, ttl) {
      if (live(key)) return false;
      data.set(key, { value, expires: now() + ttl * 1000 });
      return true;
    },
    async del(key) {
      data.delete(key);
      sets.delete(key);
    },
    async addToSet(key, member, ttl) {
      const e = liveSet(key) ?? { members: new Set<string>(), expires: 0 };
      e.members.add(member);
      e.expires = now() + ttl * 1000;
      sets.set(key, e);
    },
    async removeFromSet(key, member) {
      liveSet(key)?.members.delete(member);
    },
    async members(key) {
      return [...(liveSet(key)?.members ?? [])];
    },
    async delIfEquals(key, value) {
      if (live(key)?.value !== value) return false;
      data.delete(key);
      return true;
    },
    async expireIfEquals(key, value, ttlMs) {
      const e = live(key);
      if (e?.value !== value) return false;
      e.expires = now() + ttlMs;
      return true;
    },
  };
}
