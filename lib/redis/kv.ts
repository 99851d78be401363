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
}

/** Any Redis failure becomes SESSION_STORE_UNAVAILABLE (503 + Retry-After), never a crash. */
async function guard<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new FedgateError('SESSION_STORE_UNAVAILABLE', 'The session store is unavailable; please try again shortly.', { cause: err, detail: err instanceof Error ? err.message.slice(0, 200) : undefined });
  }
}

export function createRedisKv(client: RedisClient, prefix: string): KvStore {
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
  };
  return {
    set: (k, v, t) => guard(() => kv.set(k, v, t)),
    take: (k) => guard(() => kv.take(k)),
    get: (k) => guard(() => kv.get(k)),
    setIfAbsent: (k, v, t) => guard(() => kv.setIfAbsent(k, v, t)),
    del: (k) => guard(() => kv.del(k)),
  };
}

export function createMemoryKv(now: () => number = Date.now): KvStore {
  const data = new Map<string, { value: string; expires: number }>();
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
    },
  };
}
