import type { Redis } from 'ioredis';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startSentinelSetup, command, type SentinelSetup } from '../fixtures/redis-topologies.js';
import { waitFor } from '../fixtures/ports.js';
import { getJson, sessionCookie, sessionKey, type JsonResponse } from './helpers.js';

// One master, one replica, three sentinels (quorum 2, down-after 1 s). The gateway connects
// through the sentinels; the master is killed under traffic.
let setup: SentinelSetup;
let stack: Stack;
let master: Redis;

beforeAll(async () => {
  setup = await startSentinelSetup();
  stack = await startStack({
    redis: setup.master,
    config: (c) => {
      (c.session as Record<string, unknown>).redis = { sentinels: setup.sentinels, name: setup.name, commandTimeout: 1000, connectTimeout: 1000 };
    },
  });
  master = setup.master.client({ retryStrategy: () => null });
  master.on('error', () => undefined);
  await stack.gateway.ready();
}, 60_000);
afterAll(async () => {
  if (master && master.status !== 'end') master.disconnect();
  await stack?.close();
  await setup?.stop();
});

describe('Redis Sentinel', () => {
  test('sessions work through the sentinels (stored on the master, replicated)', async () => {
    const cookie = sessionCookie(await stack.login(), stack.url);
    expect((await getJson(`${stack.url}/dashboard`, { cookie })).status).toBe(200);
    expect(await master.exists(sessionKey(cookie))).toBe(1);
    expect(await stack.gateway.health()).toMatchObject({ ok: true, redis: 'ready' });
  });

  test('a failover under traffic loses no acknowledged session, gives only bounded 503s, never access', async () => {
    const cookies: string[] = [];
    for (let i = 0; i < 3; i++) cookies.push(sessionCookie(await stack.login(), stack.url));
    // Acknowledged = replicated: the replication stream is ordered, so once the replica has
    // acknowledged a later write, it has every session written before it.
    await master.set('fedgate-test:marker', '1', 'EX', 60);
    expect(await master.call('WAIT', '1', '2000')).toBe(1);
    for (const c of cookies) expect(await command(setup.replica.port, ['EXISTS', sessionKey(c)])).toBe(1);
    // Closed while the master is alive: ioredis would otherwise hold a 2 s timer for the dead socket.
    master.disconnect();

    await setup.master.kill();
    const seen: Array<{ who: string; status: number; ms: number }> = [];
    const probe = async (who: string, cookie?: string): Promise<JsonResponse> => {
      const r = await getJson(`${stack.url}/dashboard`, cookie ? { cookie } : {}, 5000);
      seen.push({ who, status: r.status, ms: r.ms });
      return r;
    };
    await waitFor(
      'the session to work again after the failover',
      async () => {
        const [withSession] = await Promise.all([probe('session', cookies[0]), probe('anonymous')]);
        return withSession.status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    expect(await setup.currentMaster()).toEqual({ host: '127.0.0.1', port: setup.replica.port });
    for (const s of seen) {
      expect(s.ms).toBeLessThan(3000);
      if (s.who === 'anonymous') expect([401, 503]).toContain(s.status);
      else expect([200, 503]).toContain(s.status);
    }
    expect(seen.some((s) => s.status === 503)).toBe(true);
    for (const c of cookies) expect((await getJson(`${stack.url}/dashboard`, { cookie: c })).body).toMatchObject({ sub: 'corp|alice' });
    // New sessions are written to the promoted master.
    const fresh = sessionCookie(await stack.login(), stack.url);
    expect(await command(setup.replica.port, ['EXISTS', sessionKey(fresh)])).toBe(1);
    expect((await getJson(`${stack.url}/dashboard`, { cookie: fresh })).status).toBe(200);
  }, 60_000);
});
