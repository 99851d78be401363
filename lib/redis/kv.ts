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
  /**
   * Puts `member` in the due queue `queue` (or moves it) to fall due at `dueAt` (epoch ms), and
   * (re)sets the queue's TTL. A sorted set on Redis: one key, so Cluster-safe.
   */
  dueAdd(queue: string, member: string, dueAt: number, ttlSeconds: number): Promise<void>;
  /**
   * Claims up to `limit` members due at `now` or earlier, earliest first (ties in member order),
   * and removes them, atomically: of several instances taking at once, each member goes to one.
   */
  dueTake(queue: string, now: number, limit: number): Promise<string[]>;
  dueRemove(queue: string, member: string): Promise<void>;
}

const delIfEqualsScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const expireIfEqualsScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
// One script, so that ZRANGEBYSCORE and ZREM cannot interleave with another instance's take.
const dueTakeScript = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
return ids`;

export type RedisObserver = (op: string, seconds: number, ok: boolean) => void;

/** A store failure as the coded error every caller maps to 503 + Retry-After; coded errors pass. */
export function storeUnavailable(cause: unknown): FedgateError {
  if (cause instanceof FedgateError) return cause;
  return new FedgateError('SESSION_STORE_UNAVAILABLE', 'The session store is unavailable; please try again shortly.', {
    cause,
    ...(cause instanceof Error ? { detail: cause.message.slice(0, 200) } : {}),
  });
}

/** Runs one Redis operation: every failure becomes SESSION_STORE_UNAVAILABLE, never a crash. */
export async function guardRedis<T>(op: () => Promise<T>, name = 'kv', observe?: RedisObserver): Promise<T> {
  const started = observe ? performance.now() : 0;
  try {
    const result = await op();
    observe?.(name, (performance.now() - started) / 1000, true);
    return result;
  } catch (err) {
    observe?.(name, (performance.now() - started) / 1000, false);
    throw storeUnavailable(err);
  }
}

async function execOrThrow(multi: ReturnType<RedisClient['multi']>): Promise<void> {
  const res = await multi.exec();
  const err = res?.find(([e]) => e)?.[0];
  if (!res || err) throw err ?? new Error('MULTI aborted');
}

// The KvStore in three groups of operations, one per Redis data type; the memory store mirrors them.
type StringOps = Pick<KvStore, 'set' | 'take' | 'get' | 'setIfAbsent' | 'delIfEquals' | 'expireIfEquals'>;

type SetOps = Pick<KvStore, 'addToSet' | 'removeFromSet' | 'members'>;

type DueOps = Pick<KvStore, 'dueAdd' | 'dueTake' | 'dueRemove'>;

/** Strings: the transactions, replay guards and locks (the lock scripts compare before they act). */
function redisStrings(client: RedisClient, prefix: string): StringOps & Pick<KvStore, 'del'> {
  return {
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
    async delIfEquals(key, value) {
      return (await client.eval(delIfEqualsScript, 1, prefix + key, value)) === 1;
    },
    async expireIfEquals(key, value, ttlMs) {
      return (await client.eval(expireIfEqualsScript, 1, prefix + key, value, String(ttlMs))) === 1;
    },
  };
}

function redisSets(client: RedisClient, prefix: string): SetOps {
  return {
    async addToSet(key, member, ttl) {
      await execOrThrow(
        client
          .multi()
          .sadd(prefix + key, member)
          .expire(prefix + key, ttl),
      );
    },
    async removeFromSet(key, member) {
      await client.srem(prefix + key, member);
    },
    async members(key) {
      return client.smembers(prefix + key);
    },
  };
}

function redisDueQueues(client: RedisClient, prefix: string): DueOps {
  return {
    async dueAdd(queue, member, dueAt, ttl) {
      await execOrThrow(
        client
          .multi()
          .zadd(prefix + queue, dueAt, member)
          .expire(prefix + queue, ttl),
      );
    },
    async dueTake(queue, now, limit) {
      return (await client.eval(dueTakeScript, 1, prefix + queue, String(now), String(limit))) as string[];
    },
    async dueRemove(queue, member) {
      await client.zrem(prefix + queue, member);
    },
  };
}

export function createRedisKv(client: RedisClient, prefix: string, observe?: RedisObserver): KvStore {
  const kv: KvStore = { ...redisStrings(client, prefix), ...redisSets(client, prefix), ...redisDueQueues(client, prefix) };
  // Each operation is guarded and observed under the name of the Redis command (or script) it runs.
  return {
    set: (k, v, t) => guardRedis(() => kv.set(k, v, t), 'set', observe),
    take: (k) => guardRedis(() => kv.take(k), 'getdel', observe),
    get: (k) => guardRedis(() => kv.get(k), 'get', observe),
    setIfAbsent: (k, v, t) => guardRedis(() => kv.setIfAbsent(k, v, t), 'setnx', observe),
    del: (k) => guardRedis(() => kv.del(k), 'del', observe),
    addToSet: (k, m, t) => guardRedis(() => kv.addToSet(k, m, t), 'sadd', observe),
    removeFromSet: (k, m) => guardRedis(() => kv.removeFromSet(k, m), 'srem', observe),
    members: (k) => guardRedis(() => kv.members(k), 'smembers', observe),
    delIfEquals: (k, v) => guardRedis(() => kv.delIfEquals(k, v), 'unlock', observe),
    expireIfEquals: (k, v, t) => guardRedis(() => kv.expireIfEquals(k, v, t), 'renew', observe),
    dueAdd: (q, m, d, t) => guardRedis(() => kv.dueAdd(q, m, d, t), 'zadd', observe),
    dueTake: (q, n, l) => guardRedis(() => kv.dueTake(q, n, l), 'ztake', observe),
    dueRemove: (q, m) => guardRedis(() => kv.dueRemove(q, m), 'zrem', observe),
  };
}

/** Entries of one key type that expire on the injected clock, as Redis keys do. */
function expiringMap<T extends { expires: number }>(now: () => number) {
  const map = new Map<string, T>();
  return {
    map,
    live(key: string): T | undefined {
      const e = map.get(key);
      if (e && e.expires <= now()) {
        map.delete(key);
        return undefined;
      }
      return e;
    },
  };
}

function memoryStrings(now: () => number, data: ReturnType<typeof expiringMap<{ value: string; expires: number }>>): StringOps {
  return {
    async set(key, value, ttl) {
      data.map.set(key, { value, expires: now() + ttl * 1000 });
    },
    async take(key) {
      const e = data.live(key);
      data.map.delete(key);
      return e?.value ?? null;
    },
    async get(key) {
      return data.live(key)?.value ?? null;
    },
    async setIfAbsent(key, value, ttl) {
      if (data.live(key)) return false;
      data.map.set(key, { value, expires: now() + ttl * 1000 });
      return true;
    },
    async delIfEquals(key, value) {
      if (data.live(key)?.value !== value) return false;
      data.map.delete(key);
      return true;
    },
    async expireIfEquals(key, value, ttlMs) {
      const e = data.live(key);
      if (e?.value !== value) return false;
      e.expires = now() + ttlMs;
      return true;
    },
  };
}

function memorySets(now: () => number, sets: ReturnType<typeof expiringMap<{ members: Set<string>; expires: number }>>): SetOps {
  return {
    async addToSet(key, member, ttl) {
      const e = sets.live(key) ?? { members: new Set<string>(), expires: 0 };
      e.members.add(member);
      e.expires = now() + ttl * 1000;
      sets.map.set(key, e);
    },
    async removeFromSet(key, member) {
      const e = sets.live(key);
      e?.members.delete(member);
      // Redis deletes a set with its last member (and with it the TTL).
      if (e?.members.size === 0) sets.map.delete(key);
    },
    async members(key) {
      return [...(sets.live(key)?.members ?? [])];
    },
  };
}

function memoryDueQueues(now: () => number, queues: ReturnType<typeof expiringMap<{ due: Map<string, number>; expires: number }>>): DueOps {
  return {
    async dueAdd(queue, member, dueAt, ttl) {
      const e = queues.live(queue) ?? { due: new Map<string, number>(), expires: 0 };
      e.due.set(member, dueAt);
      e.expires = now() + ttl * 1000;
      queues.map.set(queue, e);
    },
    async dueTake(queue, at, limit) {
      const e = queues.live(queue);
      if (!e) return [];
      // Redis order: by score, then by member.
      const taken = [...e.due]
        .filter(([, due]) => due <= at)
        .sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, Math.max(0, limit))
        .map(([member]) => member);
      for (const member of taken) e.due.delete(member);
      if (e.due.size === 0) queues.map.delete(queue);
      return taken;
    },
    async dueRemove(queue, member) {
      const e = queues.live(queue);
      e?.due.delete(member);
      if (e?.due.size === 0) queues.map.delete(queue);
    },
  };
}

/** Development only: the same behaviour as {@link createRedisKv}, in process memory, on the injected clock. */
export function createMemoryKv(now: () => number = Date.now): KvStore {
  const data = expiringMap<{ value: string; expires: number }>(now);
  const sets = expiringMap<{ members: Set<string>; expires: number }>(now);
  const queues = expiringMap<{ due: Map<string, number>; expires: number }>(now);
  return {
    ...memoryStrings(now, data),
    ...memorySets(now, sets),
    ...memoryDueQueues(now, queues),
    async del(key) {
      data.map.delete(key);
      sets.map.delete(key);
      queues.map.delete(key);
    },
  };
}
