import type { Redis } from 'ioredis';
import { FedgateError } from '../../lib/errors.js';
import type { GatewayContext } from '../../lib/context.js';
import { createMemoryKv, createRedisKv, guardRedis, storeUnavailable, type KvStore } from '../../lib/redis/kv.js';
import { FedgateRedisStore } from '../../lib/session/store.js';
import { destroyIndexed } from '../../lib/session/session-index.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';

const timeouts = { idleTimeout: 60, absoluteTimeout: 600, transactionTtl: 60 };

describe('createRedisKv on a live Redis', () => {
  let redis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  test('every key lands under the prefix, with a TTL', async () => {
    const kv = createRedisKv(client, 'pfx:');
    await kv.set('str', 'v', 60);
    await kv.setIfAbsent('nx', 'v', 60);
    await kv.addToSet('set', 'm', 60);
    await kv.dueAdd('queue', 'm', 1, 60);
    const keys = (await client.keys('*')).sort();
    expect(keys).toEqual(['pfx:nx', 'pfx:queue', 'pfx:set', 'pfx:str']);
    for (const key of keys) expect(await client.ttl(key)).toBeGreaterThan(0);
    expect(await client.type('pfx:queue')).toBe('zset');
    expect(await client.zscore('pfx:queue', 'm')).toBe('1');
  });

  test('two prefixes on one Redis are two stores', async () => {
    const a = createRedisKv(client, 'a:');
    const b = createRedisKv(client, 'b:');
    await a.set('k', 'from a', 60);
    expect(await b.get('k')).toBeNull();
    await a.dueAdd('q', 'm', 0, 60);
    expect(await b.dueTake('q', 1, 10)).toEqual([]);
    expect(await a.dueTake('q', 1, 10)).toEqual(['m']);
  });

  test('the observer sees each operation by name, timed, as succeeded', async () => {
    const seen: Array<[string, boolean]> = [];
    const kv = createRedisKv(client, 'obs:', (op, seconds, ok) => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      seen.push([op, ok]);
    });
    await kv.set('k', 'v', 60);
    await kv.take('k');
    await kv.dueAdd('q', 'm', 0, 60);
    await kv.dueTake('q', 1, 1);
    expect(seen).toEqual([
      ['set', true],
      ['getdel', true],
      ['zadd', true],
      ['ztake', true],
    ]);
  });

  test('a key of another type is an error on Redis, and it is coded', async () => {
    const kv = createRedisKv(client, 'wt:');
    await kv.addToSet('k', 'm', 60);
    await expect(kv.get('k')).rejects.toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE' });
  });
});

describe('Redis down: every operation fails with the coded 503 error', () => {
  let redis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    // No reconnection: a client left reconnecting would keep jest alive.
    client = redis.client({ maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    await client.ping();
    // As createRedisClient does once connected: no offline queue, so failures are immediate.
    client.options.enableOfflineQueue = false;
    await redis.kill();
    await new Promise<void>((resolve) => {
      if (client.status === 'end') resolve();
      else client.once('end', () => resolve());
    });
  });
  afterAll(async () => {
    // The client has ended; disconnecting it again would leave a timer behind.
    await redis?.stop();
  });

  const calls: Array<[string, (kv: KvStore) => Promise<unknown>]> = [
    ['set', (kv) => kv.set('k', 'v', 60)],
    ['take', (kv) => kv.take('k')],
    ['get', (kv) => kv.get('k')],
    ['setIfAbsent', (kv) => kv.setIfAbsent('k', 'v', 60)],
    ['del', (kv) => kv.del('k')],
    ['addToSet', (kv) => kv.addToSet('s', 'm', 60)],
    ['removeFromSet', (kv) => kv.removeFromSet('s', 'm')],
    ['members', (kv) => kv.members('s')],
    ['delIfEquals', (kv) => kv.delIfEquals('k', 'v')],
    ['expireIfEquals', (kv) => kv.expireIfEquals('k', 'v', 1000)],
    ['dueAdd', (kv) => kv.dueAdd('q', 'm', 0, 60)],
    ['dueTake', (kv) => kv.dueTake('q', 0, 10)],
    ['dueRemove', (kv) => kv.dueRemove('q', 'm')],
  ];

  test.each(calls)('%s', async (_name, call) => {
    const failures: string[] = [];
    const kv = createRedisKv(client, 'x:', (op, _s, ok) => {
      if (!ok) failures.push(op);
    });
    const err = await call(kv).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FedgateError);
    expect(err).toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE', status: 503, message: 'The session store is unavailable; please try again shortly.' });
    expect((err as FedgateError).cause).toBeInstanceOf(Error);
    expect(failures).toHaveLength(1);
  });

  test("the session store's expiry lookup (the broker logout chain's) is coded too", async () => {
    const store = new FedgateRedisStore(client, 'x:sess:', timeouts, Date.now);
    await expect(store.expiresAt('id')).rejects.toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE' });
  });

  test('destroying indexed sessions (revocation, back-channel logout) fails with the coded error', async () => {
    const kv = createMemoryKv();
    await kv.addToSet('idx:sub:corp|alice', 'session-1', 60);
    const ctx = { kv, store: new FedgateRedisStore(client, 'x:sess:', timeouts, Date.now) } as unknown as GatewayContext;
    await expect(destroyIndexed(ctx, 'idx:sub:corp|alice')).rejects.toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE' });
  });
});

describe('storeUnavailable / guardRedis', () => {
  test('a coded error passes through unchanged', async () => {
    const coded = new FedgateError('SESSION_STORE_UNAVAILABLE', 'x');
    expect(storeUnavailable(coded)).toBe(coded);
    await expect(guardRedis(() => Promise.reject(coded))).rejects.toBe(coded);
  });

  test("the detail carries the cause's message, bounded; a non-Error cause has none", () => {
    const e = storeUnavailable(new Error('x'.repeat(500)));
    expect(e.detail).toHaveLength(200);
    expect(storeUnavailable('weird').detail).toBeUndefined();
  });
});
