import type { Redis } from 'ioredis';
import type { Auth } from '../../lib/auth.js';
import type { Logger } from '../../lib/logger.js';
import { createSessionCache, type SessionCache } from '../../lib/session/cache.js';
import type { SessionAuth } from '../../lib/session/state.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { waitFor } from '../fixtures/ports.js';

const T0 = 1_700_000_000_000;

function recordingLogger(): Logger & { events: string[] } {
  const events: string[] = [];
  const log = (obj: object) => {
    events.push(String((obj as { event?: unknown }).event));
  };
  return { events, debug: log, info: log, warn: log, error: log };
}

const entry = (sub = 'corp|alice') => ({
  auth: { sub } as unknown as SessionAuth,
  reqAuth: Object.freeze({ sub }) as unknown as Auth,
});

describe('createSessionCache without Redis (memory store)', () => {
  let cache: SessionCache;
  beforeEach(() => {
    cache = createSessionCache({ ttlMs: 1000, channel: 'unused', logger: recordingLogger() });
  });

  test('an entry is served until the earlier of the TTL and its own end', () => {
    expect(cache.usable()).toBe(true);
    cache.set('s:a.sig', 'a', entry(), T0, T0 + 10_000);
    expect(cache.get('s:a.sig', T0 + 999)?.sessionId).toBe('a');
    expect(cache.get('s:a.sig', T0 + 1000)).toBeUndefined();
    // Expired entries are dropped, not kept for later.
    expect(cache.get('s:a.sig', T0)).toBeUndefined();

    cache.set('s:b.sig', 'b', entry(), T0, T0 + 300);
    expect(cache.get('s:b.sig', T0 + 299)?.until).toBe(T0 + 300);
    expect(cache.get('s:b.sig', T0 + 300)).toBeUndefined();
  });

  test('only the exact cookie value hits', () => {
    cache.set('s:a.sig', 'a', entry(), T0, T0 + 10_000);
    expect(cache.get('s:a.sig2', T0)).toBeUndefined();
    expect(cache.get('s:a.si', T0)).toBeUndefined();
  });

  test('a new entry for a session replaces its old cookie', () => {
    cache.set('s:a.old', 'a', entry(), T0, T0 + 10_000);
    cache.set('s:a.new', 'a', entry('corp|bob'), T0, T0 + 10_000);
    expect(cache.get('s:a.old', T0)).toBeUndefined();
    expect(cache.get('s:a.new', T0)?.auth.sub).toBe('corp|bob');
  });

  test('invalidate drops by session id', () => {
    cache.set('s:a.sig', 'a', entry(), T0, T0 + 10_000);
    cache.set('s:b.sig', 'b', entry(), T0, T0 + 10_000);
    cache.invalidate([]);
    cache.invalidate(['a', 'unknown']);
    expect(cache.get('s:a.sig', T0)).toBeUndefined();
    expect(cache.get('s:b.sig', T0)?.sessionId).toBe('b');
  });

  test('suspend empties the cache and refuses entries until resume', () => {
    cache.set('s:a.sig', 'a', entry(), T0, T0 + 10_000);
    cache.suspend();
    expect(cache.usable()).toBe(false);
    expect(cache.get('s:a.sig', T0)).toBeUndefined();
    cache.set('s:a.sig', 'a', entry(), T0, T0 + 10_000);
    expect(cache.get('s:a.sig', T0)).toBeUndefined();
    cache.resume();
    expect(cache.usable()).toBe(true);
    cache.set('s:a.sig', 'a', entry(), T0, T0 + 10_000);
    expect(cache.get('s:a.sig', T0)?.sessionId).toBe('a');
  });

  test('the cache is bounded: the oldest entry goes first', () => {
    for (let i = 0; i < 50_000; i += 1) cache.set(`s:${i}.sig`, String(i), entry(), T0, T0 + 10_000);
    expect(cache.get('s:0.sig', T0)?.sessionId).toBe('0');
    cache.set('s:new.sig', 'new', entry(), T0, T0 + 10_000);
    expect(cache.get('s:0.sig', T0)).toBeUndefined();
    expect(cache.get('s:1.sig', T0)?.sessionId).toBe('1');
    expect(cache.get('s:new.sig', T0)?.sessionId).toBe('new');
  });

  test('close empties it', async () => {
    cache.set('s:a.sig', 'a', entry(), T0, T0 + 10_000);
    await cache.close();
    expect(cache.get('s:a.sig', T0)).toBeUndefined();
  });
});

describe('createSessionCache on Redis: two instances', () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  const caches: SessionCache[] = [];
  const client = () => {
    const c = redis.client();
    clients.push(c);
    return c;
  };
  const make = (redisClient: Redis, channel = 'fedgate:inval', logger: Logger = recordingLogger()) => {
    const cache = createSessionCache({ ttlMs: 60_000, redis: redisClient, channel, logger });
    caches.push(cache);
    return cache;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()));
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test('an instance is usable only once subscribed; a change on one instance reaches the other', async () => {
    const a = make(client());
    const b = make(client());
    await waitFor('both subscribed', () => a.usable() && b.usable());
    a.set('s:x.sig', 'x', entry(), Date.now(), Date.now() + 60_000);
    b.set('s:x.sig', 'x', entry(), Date.now(), Date.now() + 60_000);
    b.set('s:y.sig', 'y', entry(), Date.now(), Date.now() + 60_000);
    a.invalidate(['x']);
    expect(a.get('s:x.sig', Date.now())).toBeUndefined();
    await waitFor('b dropped x', () => b.get('s:x.sig', Date.now()) === undefined);
    expect(b.get('s:y.sig', Date.now())?.sessionId).toBe('y');
  });

  test('several ids in one message; another channel is not listened to', async () => {
    const a = make(client());
    const b = make(client());
    const other = make(client(), 'other:inval');
    await waitFor('subscribed', () => a.usable() && b.usable() && other.usable());
    for (const c of [b, other]) {
      c.set('s:1.sig', '1', entry(), Date.now(), Date.now() + 60_000);
      c.set('s:2.sig', '2', entry(), Date.now(), Date.now() + 60_000);
    }
    a.invalidate(['1', '2']);
    await waitFor('b dropped both', () => b.get('s:1.sig', Date.now()) === undefined && b.get('s:2.sig', Date.now()) === undefined);
    expect(other.get('s:1.sig', Date.now())?.sessionId).toBe('1');
  });

  test('close ends the subscription: the instance serves nothing and hears nothing', async () => {
    const c = client();
    const a = make(c);
    await waitFor('subscribed', () => a.usable());
    await a.close();
    expect(a.usable()).toBe(false);
    a.set('s:z.sig', 'z', entry(), Date.now(), Date.now() + 60_000);
    expect(a.get('s:z.sig', Date.now())).toBeUndefined();
    // The subscriber connection is gone: only the command connection remains.
    await waitFor(
      'one client left',
      async () =>
        String(await c.client('LIST'))
          .trim()
          .split('\n').length === 1,
    );
  });

  test('Redis down: the cache is unusable and empty; a lost invalidation is logged', async () => {
    const own = await startRedis();
    try {
      const c = own.client({ maxRetriesPerRequest: 0, retryStrategy: () => 100 });
      clients.push(c);
      c.on('error', () => undefined);
      const logger = recordingLogger();
      const a = make(c, 'fedgate:inval', logger);
      await waitFor('subscribed', () => a.usable());
      a.set('s:x.sig', 'x', entry(), Date.now(), Date.now() + 60_000);
      await own.kill();
      await waitFor('unusable', () => !a.usable());
      expect(a.get('s:x.sig', Date.now())).toBeUndefined();
      c.options.enableOfflineQueue = false;
      a.invalidate(['x']);
      await waitFor('publish failure logged', () => logger.events.includes('cache.publish_failed'));
      await own.restart();
      await waitFor('usable again after reconnecting', () => a.usable(), { timeoutMs: 15_000 });
    } finally {
      await Promise.all(caches.splice(0).map((x) => x.close()));
      for (const x of clients.splice(0)) x.disconnect();
      await own.stop();
    }
  });
});
