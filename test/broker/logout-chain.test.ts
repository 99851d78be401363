import type session from 'express-session';
import type { Redis } from 'ioredis';
import type { BrokerRuntime } from '../../lib/broker/runtime.js';
import { createBrokerRecords } from '../../lib/broker/records.js';
import { createLogoutChain } from '../../lib/broker/logout-chain.js';
import { createMemoryKv, createRedisKv, type KvStore } from '../../lib/redis/kv.js';
import { FedgateMemoryStore, FedgateRedisStore, markFresh } from '../../lib/session/store.js';
import type { SessionAuth } from '../../lib/session/state.js';
import type { Logger } from '../../lib/logger.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';

/**
 * The logout chain's sweeper on both stores: a session that expires unseen ends its provider
 * sessions once (on any number of instances), a session still alive is looked at again later.
 */

const timeouts = { idleTimeout: 2, absoluteTimeout: 60, transactionTtl: 1 };
const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function authAt(now: number): SessionAuth {
  return {
    v: 1,
    sid: 'l',
    sub: 'corp|alice',
    connector: 'corp',
    claims: {},
    scope: [],
    authTime: 0,
    createdAt: now,
    lastSeen: now,
    rev: 0,
    upstream: { sub: 'alice' },
  };
}

function saveSession(store: session.Store, id: string, now: number): Promise<void> {
  const data = { cookie: { path: '/', httpOnly: true, originalMaxAge: 60_000 }, fedgate: authAt(now) } as unknown as session.SessionData;
  markFresh(data);
  return new Promise((resolve, reject) => store.set(id, data, (err?: unknown) => (err ? reject(err) : resolve())));
}

/** A runtime with just what the chain uses; the provider records which provider sessions ended. */
function runtime(kv: KvStore, store: session.Store, now: () => number, ended: string[]): BrokerRuntime {
  const provider = {
    Session: {
      findByUid: async (uid: string) => ({
        accountId: 'corp|alice',
        authorizations: {},
        destroy: async () => {
          ended.push(uid);
        },
      }),
    },
    Client: { find: async () => undefined },
  };
  return {
    ctx: { kv, store, now, logger: quiet, config: { session: timeouts } },
    settings: { sessionCheckInterval: 30 },
    records: createBrokerRecords(kv, { account: 60, grant: 60, session: 60, interaction: 60 }),
    provider: async () => provider,
  } as unknown as BrokerRuntime;
}

test('memory: an untouched session is ended after its idle timeout, not before; a saved one is rescheduled', async () => {
  let t = 1_700_000_000_000;
  const now = () => t;
  const kv = createMemoryKv(now);
  const store = new FedgateMemoryStore(timeouts, now);
  const ended: string[] = [];
  const rt = runtime(kv, store, now, ended);
  const chain = createLogoutChain(rt);
  await saveSession(store, 'idle', t);
  await saveSession(store, 'busy', t);
  for (const id of ['idle', 'busy']) {
    await rt.records.link(id, `uid-${id}`);
    await chain.linked(id);
  }
  t += 2000;
  await chain.sweep();
  expect(ended).toEqual([]);
  // 'busy' is saved again (a request), so its expiry moves on.
  await saveSession(store, 'busy', t);
  t += 2000; // past idle expiry (2 s + granularity) + 1 s of the first save
  await chain.sweep();
  expect(ended).toEqual(['uid-idle']);
  t += 10_000;
  await chain.sweep();
  expect(ended).toEqual(['uid-idle', 'uid-busy']);
  await chain.stop();
});

describe('redis', () => {
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

  test('two instances sweeping at once end each expired session exactly once', async () => {
    const kv = createRedisKv(client, 'lc:');
    const store = new FedgateRedisStore(client, 'lc:sess:', timeouts, Date.now);
    const ended: string[] = [];
    // The chains believe it is 10 s later: every scheduled session is due.
    const later = () => Date.now() + 10_000;
    const a = createLogoutChain(runtime(kv, store, later, ended));
    const b = createLogoutChain(runtime(kv, store, later, ended));
    const linker = runtime(kv, store, Date.now, ended);
    const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
    for (const id of ids) {
      await saveSession(store, id, Date.now());
      await linker.records.link(id, `uid-${id}`);
      await createLogoutChain(linker).linked(id);
    }
    expect(await client.zcard('lc:op:sweep')).toBe(20);
    // Sessions gone (expired, as Redis would let them): the sweep finds them.
    await client.del(...ids.map((id) => `lc:sess:${id}`));
    await Promise.all([a.sweep(), b.sweep()]);
    expect(ended.sort()).toEqual(ids.map((id) => `uid-${id}`).sort());
    expect(await client.zcard('lc:op:sweep')).toBe(0);
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a live session goes back into the queue at its new expiry; an ended one leaves the queue', async () => {
    const kv = createRedisKv(client, 'lc2:');
    const store = new FedgateRedisStore(client, 'lc2:sess:', timeouts, Date.now);
    const ended: string[] = [];
    const chain = createLogoutChain(runtime(kv, store, () => Date.now() + 10_000, ended));
    await saveSession(store, 'alive', Date.now());
    await chain.linked('alive');
    await chain.sweep();
    expect(ended).toEqual([]);
    const due = Number(await client.zscore('lc2:op:sweep', 'alive'));
    expect(due).toBeGreaterThan(Date.now());
    chain.sessionsEnded(['alive']);
    await chain.stop();
    expect(await client.zscore('lc2:op:sweep', 'alive')).toBeNull();
  });
});
