import type session from 'express-session';
import type { Redis } from 'ioredis';
import { createMemoryKv, createRedisKv, type KvStore } from '../../lib/redis/kv.js';
import { FedgateMemoryStore, FedgateRedisStore, markFresh, type FedgateSessionStore } from '../../lib/session/store.js';
import type { SessionAuth } from '../../lib/session/state.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';

/**
 * One table of behaviours, run against the memory and the Redis implementation of every store
 * (as dex's storage conformance suite does): where the two differ, one of them has a bug.
 * Time: the memory stores run on an injected clock; Redis keys expire on the wall clock, so the
 * Redis rows wait (only the few TTL rows do, by a little over one second).
 */

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

interface Backend<S> {
  store: S;
  now(): number;
  /** Lets `ms` pass for the store's expiries. */
  advance(ms: number): Promise<void>;
  /** Puts raw text where the store keeps the session/key `id` (foreign or corrupted data). */
  plant?(id: string, text: string): Promise<void>;
}

const clock = 1_700_000_000_000;
let run = 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const kvBackends: Array<[string, () => Backend<KvStore>]> = [
  [
    'memory',
    () => {
      let t = clock;
      return {
        store: createMemoryKv(() => t),
        now: () => t,
        advance: async (ms) => {
          t += ms;
        },
      };
    },
  ],
  [
    'redis',
    () => {
      run += 1;
      return { store: createRedisKv(client, `parity${run}:`), now: Date.now, advance: sleep };
    },
  ],
];

describe.each(kvBackends)('KvStore parity: %s', (_name, make) => {
  let b: Backend<KvStore>;
  let kv: KvStore;
  beforeEach(() => {
    b = make();
    kv = b.store;
  });

  test('set / get / del', async () => {
    expect(await kv.get('a')).toBeNull();
    await kv.set('a', 'one', 60);
    expect(await kv.get('a')).toBe('one');
    await kv.set('a', 'two', 60);
    expect(await kv.get('a')).toBe('two');
    await kv.del('a');
    expect(await kv.get('a')).toBeNull();
    await kv.del('never-set');
  });

  test('a value expires after its TTL, not before', async () => {
    await kv.set('ttl', 'v', 1);
    await b.advance(500);
    expect(await kv.get('ttl')).toBe('v');
    await b.advance(700);
    expect(await kv.get('ttl')).toBeNull();
  });

  test('setIfAbsent: only the first writer wins, and again once the key expired', async () => {
    expect(await kv.setIfAbsent('nx', 'first', 1)).toBe(true);
    expect(await kv.setIfAbsent('nx', 'second', 1)).toBe(false);
    expect(await kv.get('nx')).toBe('first');
    await b.advance(1100);
    expect(await kv.setIfAbsent('nx', 'third', 60)).toBe(true);
    expect(await kv.get('nx')).toBe('third');
  });

  test('take is get-and-delete: a value is taken once', async () => {
    await kv.set('once', 'v', 60);
    const [x, y] = await Promise.all([kv.take('once'), kv.take('once')]);
    expect([x, y].sort()).toEqual(['v', null].sort());
    expect(await kv.get('once')).toBeNull();
    expect(await kv.take('absent')).toBeNull();
  });

  test('sets: add, remove, members, del; the TTL is renewed by each add', async () => {
    expect(await kv.members('s')).toEqual([]);
    await kv.addToSet('s', 'a', 60);
    await kv.addToSet('s', 'b', 60);
    await kv.addToSet('s', 'a', 60);
    expect((await kv.members('s')).sort()).toEqual(['a', 'b']);
    await kv.removeFromSet('s', 'a');
    await kv.removeFromSet('s', 'zzz');
    expect(await kv.members('s')).toEqual(['b']);
    await kv.removeFromSet('s', 'b');
    expect(await kv.members('s')).toEqual([]);
    await kv.removeFromSet('missing', 'x');
    await kv.addToSet('s', 'c', 60);
    await kv.del('s');
    expect(await kv.members('s')).toEqual([]);
  });

  test('a set expires as a whole', async () => {
    await kv.addToSet('exp', 'a', 1);
    await b.advance(1100);
    expect(await kv.members('exp')).toEqual([]);
    await kv.addToSet('exp', 'b', 60);
    expect(await kv.members('exp')).toEqual(['b']);
  });

  test('delIfEquals and expireIfEquals act only while the key holds the value (locks)', async () => {
    await kv.set('lock', 'me', 60);
    expect(await kv.delIfEquals('lock', 'you')).toBe(false);
    expect(await kv.expireIfEquals('lock', 'you', 5000)).toBe(false);
    expect(await kv.get('lock')).toBe('me');
    expect(await kv.expireIfEquals('lock', 'me', 5000)).toBe(true);
    expect(await kv.delIfEquals('lock', 'me')).toBe(true);
    expect(await kv.get('lock')).toBeNull();
    expect(await kv.delIfEquals('lock', 'me')).toBe(false);
    expect(await kv.expireIfEquals('lock', 'me', 5000)).toBe(false);
  });

  test('expireIfEquals sets the remaining lifetime in ms', async () => {
    await kv.set('lease', 'me', 60);
    expect(await kv.expireIfEquals('lease', 'me', 800)).toBe(true);
    await b.advance(500);
    expect(await kv.get('lease')).toBe('me');
    await b.advance(500);
    expect(await kv.get('lease')).toBeNull();
  });

  test('due queue: only due members are taken, earliest first, ties in member order', async () => {
    const t = b.now();
    await kv.dueAdd('q', 'late', t + 60_000, 120);
    await kv.dueAdd('q', 'b', t - 1000, 120);
    await kv.dueAdd('q', 'a', t - 1000, 120);
    await kv.dueAdd('q', 'first', t - 5000, 120);
    await kv.dueAdd('q', 'now', t, 120);
    expect(await kv.dueTake('q', t, 10)).toEqual(['first', 'a', 'b', 'now']);
    expect(await kv.dueTake('q', t, 10)).toEqual([]);
    expect(await kv.dueTake('q', t + 60_000, 10)).toEqual(['late']);
    expect(await kv.dueTake('empty', t, 10)).toEqual([]);
  });

  test('due queue: a limit, a re-add moves the member, dueRemove and del drop it', async () => {
    const t = b.now();
    for (const m of ['m1', 'm2', 'm3', 'm4']) await kv.dueAdd('q', m, t - 10, 120);
    await kv.dueAdd('q', 'm1', t + 1000, 120);
    await kv.dueRemove('q', 'm2');
    await kv.dueRemove('q', 'not-there');
    expect(await kv.dueTake('q', t, 1)).toEqual(['m3']);
    expect(await kv.dueTake('q', t, 5)).toEqual(['m4']);
    expect(await kv.dueTake('q', t + 1000, 5)).toEqual(['m1']);
    await kv.dueAdd('q', 'gone', t - 10, 120);
    await kv.del('q');
    expect(await kv.dueTake('q', t, 5)).toEqual([]);
  });

  test('due queue: concurrent takes claim each member exactly once', async () => {
    const t = b.now();
    const members = Array.from({ length: 30 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    for (const m of members) await kv.dueAdd('race', m, t - 1, 120);
    const takes = await Promise.all(Array.from({ length: 6 }, () => kv.dueTake('race', t, 7)));
    const all = takes.flat();
    expect(all.sort()).toEqual(members);
  });

  test('due queue: the queue expires with its TTL, renewed by each add', async () => {
    const t = b.now();
    await kv.dueAdd('ttlq', 'x', t, 1);
    await b.advance(1100);
    expect(await kv.dueTake('ttlq', b.now(), 10)).toEqual([]);
    await kv.dueAdd('ttlq', 'y', t, 60);
    expect(await kv.dueTake('ttlq', b.now(), 10)).toEqual(['y']);
  });

  test('keys of one store do not collide with another prefix', async () => {
    await kv.set('shared', 'mine', 60);
    const other = make().store;
    expect(await other.get('shared')).toBeNull();
  });
});

// ---- session stores ----------------------------------------------------------------------------

const timeouts = { idleTimeout: 2, absoluteTimeout: 4, transactionTtl: 1 };

const sessionBackends: Array<[string, () => Backend<FedgateSessionStore>]> = [
  [
    'memory',
    () => {
      let t = clock;
      return {
        store: new FedgateMemoryStore(timeouts, () => t),
        now: () => t,
        advance: async (ms) => {
          t += ms;
        },
      };
    },
  ],
  [
    'redis',
    () => {
      run += 1;
      const prefix = `psess${run}:`;
      return {
        store: new FedgateRedisStore(client, prefix, timeouts, Date.now),
        now: Date.now,
        advance: sleep,
        plant: async (id, text) => {
          await client.set(prefix + id, text, 'EX', 60);
        },
      };
    },
  ],
];

const cookie = () => ({ originalMaxAge: 4000, expires: new Date(Date.now() + 4000).toISOString(), httpOnly: true, path: '/', secure: false, sameSite: 'lax' });

function authAt(now: number, rev = 0, extra: Partial<SessionAuth> = {}): SessionAuth {
  return {
    v: 1,
    sid: 'local-sid',
    sub: 'corp|alice',
    connector: 'corp',
    claims: { sub: 'corp|alice' },
    scope: [],
    authTime: Math.floor(now / 1000),
    createdAt: now,
    lastSeen: now,
    rev,
    upstream: { sub: 'alice' },
    ...extra,
  };
}

function sessionOf(fedgate?: SessionAuth): session.SessionData {
  return { cookie: cookie(), ...(fedgate ? { fedgate } : {}) } as unknown as session.SessionData;
}

const get = (s: session.Store, id: string) =>
  new Promise<session.SessionData | null | undefined>((resolve, reject) => {
    s.get(id, (err, data) => (err ? reject(err) : resolve(data)));
  });
const set = (s: session.Store, id: string, data: session.SessionData) =>
  new Promise<void>((resolve, reject) => {
    s.set(id, data, (err?: unknown) => (err ? reject(err) : resolve()));
  });
const destroy = (s: session.Store, id: string) =>
  new Promise<void>((resolve, reject) => {
    s.destroy(id, (err?: unknown) => (err ? reject(err) : resolve()));
  });
const touch = (s: session.Store, id: string, data: session.SessionData) =>
  new Promise<void>((resolve) => {
    s.touch!(id, data, () => resolve());
  });
const fresh = (data: session.SessionData) => {
  markFresh(data);
  return data;
};
const revOf = (data: session.SessionData | null | undefined) => (data as { fedgate?: { rev?: number } } | null | undefined)?.fedgate?.rev;

describe.each(sessionBackends)('session store parity: %s', (_name, make) => {
  let b: Backend<FedgateSessionStore>;
  let store: FedgateSessionStore;
  beforeEach(() => {
    b = make();
    store = b.store;
  });

  test('a fresh session is written; get returns it; destroy removes it', async () => {
    expect(await get(store, 'sid1')).toBeFalsy();
    await set(store, 'sid1', fresh(sessionOf(authAt(b.now()))));
    expect(((await get(store, 'sid1')) as unknown as { fedgate: SessionAuth }).fedgate.sub).toBe('corp|alice');
    await destroy(store, 'sid1');
    expect(await get(store, 'sid1')).toBeFalsy();
    expect(await store.expiresAt('sid1')).toBeUndefined();
    await destroy(store, 'never');
  });

  test('a save that is not a fresh login never brings a destroyed (or absent) session back', async () => {
    const data = sessionOf(authAt(b.now()));
    await set(store, 'ghost', data);
    expect(await get(store, 'ghost')).toBeFalsy();
    await set(store, 'sid2', fresh(sessionOf(authAt(b.now()))));
    await destroy(store, 'sid2');
    await set(store, 'sid2', sessionOf(authAt(b.now(), 1)));
    expect(await get(store, 'sid2')).toBeFalsy();
  });

  test('a save never overwrites a newer revision; an equal or newer one is written', async () => {
    await set(store, 'rev', fresh(sessionOf(authAt(b.now(), 3))));
    await set(store, 'rev', sessionOf(authAt(b.now(), 2)));
    expect(revOf(await get(store, 'rev'))).toBe(3);
    await set(store, 'rev', sessionOf(authAt(b.now(), 3, { claims: { sub: 'corp|alice', x: 1 } })));
    expect(((await get(store, 'rev')) as unknown as { fedgate: SessionAuth }).fedgate.claims.x).toBe(1);
    await set(store, 'rev', sessionOf(authAt(b.now(), 4)));
    expect(revOf(await get(store, 'rev'))).toBe(4);
  });

  test('a session without sign-in lives the transaction TTL', async () => {
    await set(store, 'pre', fresh(sessionOf()));
    const expires = await store.expiresAt('pre');
    expect(expires! - b.now()).toBeGreaterThan(500);
    expect(expires! - b.now()).toBeLessThanOrEqual(1000);
    await b.advance(1100);
    expect(await get(store, 'pre')).toBeFalsy();
    expect(await store.expiresAt('pre')).toBeUndefined();
  });

  test('the idle timeout (plus the touch granularity) ends an untouched session; touch does not extend it', async () => {
    await set(store, 'idle', fresh(sessionOf(authAt(b.now()))));
    const expires = await store.expiresAt('idle');
    // idleTimeout 2 s + ceil(100 ms granularity) = 3 s
    expect(expires! - b.now()).toBeGreaterThan(2500);
    expect(expires! - b.now()).toBeLessThanOrEqual(3000);
    await touch(store, 'idle', sessionOf(authAt(b.now())));
    expect(Math.abs((await store.expiresAt('idle'))! - expires!)).toBeLessThan(100);
  });

  test('a save extends the session, but never past the absolute timeout', async () => {
    const createdAt = b.now() - 3000;
    await set(store, 'abs', fresh(sessionOf(authAt(createdAt))));
    const expires = await store.expiresAt('abs');
    // absoluteTimeout 4 s from createdAt: 1 s left
    expect(expires! - b.now()).toBeGreaterThan(500);
    expect(expires! - b.now()).toBeLessThanOrEqual(1000);
    await b.advance(1100);
    expect(await get(store, 'abs')).toBeFalsy();
  });

  test('stored data with a mistyped or foreign cookie reads as no session, never as an error', async () => {
    const bad = [{ cookie: { originalMaxAge: 'x' } }, { cookie: { path: '/', bogus: 1 } }, { cookie: null }, { fedgate: authAt(b.now()) }];
    for (const value of bad) {
      await set(store, 'bad', fresh(value as unknown as session.SessionData));
      expect(await get(store, 'bad')).toBeFalsy();
    }
  });

  test('foreign text under a session id reads as no session (Redis: anything another writer left)', async () => {
    if (!b.plant) return; // the memory store holds only what it wrote itself
    for (const text of ['not json', '[]', 'null', '"a string"', '{"cookie":{"expires":"not a date"}}']) {
      await b.plant('foreign', text);
      expect(await get(store, 'foreign')).toBeFalsy();
    }
  });
});
