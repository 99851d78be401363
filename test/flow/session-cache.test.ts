import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { DEFAULT_CLIENT_ID, signWithSharedKey } from '../fixtures/op.js';
import { waitFor } from '../fixtures/ports.js';
import type { Browser } from '../fixtures/browser.js';
import { testClock } from '../fixtures/clock.js';

const S = 1000;

// The in-process session cache: a long TTL here (30 s) proves that changes made on another
// instance arrive through Redis pub/sub, not through the entry's expiry.
const cached =
  (extra: Record<string, unknown> = {}) =>
  (c: Record<string, unknown>) => {
    Object.assign(c.session as Record<string, unknown>, { cacheTtl: 30, ...extra });
  };

let redis: RedisServer;
let a: Stack;
let b: Stack;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  a = await startStack({ redis, op: { backchannelLogout: true }, config: cached() });
  b = await startStack({ redis, sharedOp: a.op, config: cached() });
  client = redis.client();
});
afterAll(async () => {
  client?.disconnect();
  await b?.close();
  await a?.close();
  await redis?.stop();
});

const json = { accept: 'application/json' };
const cookieOf = (browser: Browser, stack: Stack) => browser.cookies.header(stack.url)!;
const at = (stack: Stack, cookie: string, path = '/dashboard') => fetch(`${stack.url}${path}`, { headers: { ...json, cookie } });

async function getCalls(): Promise<number> {
  const info = await client.info('commandstats');
  const m = /cmdstat_get:calls=(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}

describe('session cache', () => {
  test('hits cost no Redis read', async () => {
    const browser = await a.login();
    const cookie = cookieOf(browser, a);
    expect((await at(a, cookie)).status).toBe(200);
    const before = await getCalls();
    for (let i = 0; i < 20; i += 1) expect((await at(a, cookie)).status).toBe(200);
    expect(await getCalls()).toBe(before);
  });

  test('the served req.auth is frozen, so a route cannot poison later requests', async () => {
    const browser = await a.login();
    const cookie = cookieOf(browser, a);
    const first = (await (await at(a, cookie)).json()) as { claims: Record<string, unknown> };
    expect(Object.isFrozen(first)).toBe(false); // JSON copy; the guard is below
    a.app.get('/mutate', (req, res) => {
      let threw = false;
      try {
        (req.auth.claims as Record<string, unknown>).name = 'Mallory';
      } catch {
        threw = true;
      }
      res.json({ threw, name: req.auth.claims.name });
    });
    const mutated = (await (await at(a, cookie, '/mutate')).json()) as { name: string };
    expect(mutated.name).toBe('Alice Example');
    expect(((await (await at(a, cookie)).json()) as { claims: { name: string } }).claims.name).toBe('Alice Example');
  });

  test('a logout on another instance ends the session here at once (pub/sub), not after the cache TTL', async () => {
    const browser = await a.login();
    const cookie = cookieOf(browser, a);
    expect((await at(a, cookie)).status).toBe(200);
    const out = await fetch(`${b.url}/auth/logout`, { method: 'POST', headers: { cookie, origin: b.url }, redirect: 'manual' });
    expect(out.status).toBe(302);
    await waitFor('logout seen by instance a', async () => (await at(a, cookie)).status === 401, { timeoutMs: 2000 });
  });

  test('revokeSessions and back-channel logout on another instance end cached sessions here', async () => {
    const one = cookieOf(await a.login(), a);
    expect((await at(a, one)).status).toBe(200);
    await b.gateway.revokeSessions({ sub: 'corp|alice' });
    await waitFor('revocation seen', async () => (await at(a, one)).status === 401, { timeoutMs: 2000 });

    const two = cookieOf(await a.login(), a);
    expect((await at(a, two)).status).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    const token = await signWithSharedKey(
      {
        iss: a.op.issuer,
        aud: DEFAULT_CLIENT_ID,
        iat: now,
        jti: randomUUID(),
        sub: 'alice',
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      },
      { typ: 'logout+jwt' },
    );
    const res = await fetch(`${b.url}/auth/backchannel-logout/corp`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }),
    });
    expect(res.status).toBe(200);
    await waitFor('back-channel logout seen', async () => (await at(a, two)).status === 401, { timeoutMs: 2000 });
  });

  test('a planted session cookie is evicted from the cache when the victim logs in (fixation)', async () => {
    const attacker = await a.login();
    const planted = cookieOf(attacker, a);
    expect((await at(a, planted)).status).toBe(200);
    const victim = a.browser();
    const [name, value] = planted.split('=') as [string, string];
    victim.cookies.set(a.url, `${name}=${value}; Path=/; HttpOnly`);
    // The victim signs in explicitly while carrying the attacker's (valid) session cookie.
    const res = await victim.follow(`${a.url}/auth/login/corp?returnTo=%2Fdashboard`);
    expect(res.status).toBe(200);
    expect(cookieOf(victim, a)).not.toBe(planted);
    expect((await at(a, planted)).status).toBe(401);
  });
});

describe('session cache and timeouts / outages', () => {
  test('idle and absolute timeouts stay exact on cache hits', async () => {
    // The gateway's clock is moved, not waited on. lastSeen is written back (and the entry
    // re-checked in full) only once it has aged by idleTimeout/20, here 10 s: inside that window
    // a request is a cache hit, so the absolute timeout must end the session on the hit path.
    const clock = testClock();
    const idle = 200;
    const absolute = 3600;
    const short = await startStack({ redis, config: cached({ idleTimeout: idle, absoluteTimeout: absolute, cacheTtl: 60 }), options: { now: clock.now } });
    try {
      const quiet = cookieOf(await short.login(), short);
      const quietSince = clock.now();
      clock.set(quietSince + (idle - 5) * S);
      expect((await at(short, quiet)).status).toBe(200);
      clock.set(quietSince + (idle - 5) * S + (idle + 1) * S);
      expect((await at(short, quiet)).status).toBe(401);

      clock.reset(); // log in at wall time (the OP's ID token)
      const busy = cookieOf(await short.login(), short);
      const loggedInAt = clock.now();
      for (let t = loggedInAt + 150 * S; t < loggedInAt + (absolute - 60) * S; t += 150 * S) {
        clock.set(t);
        expect((await at(short, busy)).status).toBe(200);
      }
      const lastWrite = loggedInAt + (absolute - 3) * S;
      clock.set(lastWrite);
      expect((await at(short, busy)).status).toBe(200); // lastSeen written back, entry cached
      clock.set(lastWrite + 1 * S);
      const before = await getCalls();
      expect((await at(short, busy)).status).toBe(200);
      expect(await getCalls()).toBe(before); // served from the cache
      clock.set(loggedInAt + absolute * S);
      expect((await at(short, busy)).status).toBe(401);
    } finally {
      await short.close();
    }
  });

  test('when Redis dies the cache is not used: 503 within 3 s, never a cached 200', async () => {
    const own = await startRedis();
    const stack = await startStack({ redis: own, config: cached() });
    try {
      const cookie = cookieOf(await stack.login(), stack);
      expect((await at(stack, cookie)).status).toBe(200);
      await own.kill();
      const started = Date.now();
      const statuses: number[] = [];
      await waitFor(
        '503',
        async () => {
          const s = (await at(stack, cookie)).status;
          statuses.push(s);
          return s === 503;
        },
        { timeoutMs: 3000 },
      );
      expect(Date.now() - started).toBeLessThan(3000);
      expect(statuses).not.toContain(200);
      await own.restart();
      // Without persistence the session is gone: recovery means a proper 401, no longer a 503.
      await waitFor('recovered', async () => (await at(stack, cookie)).status === 401, { timeoutMs: 8000 });
    } finally {
      await stack.close();
      await own.stop();
    }
  });
});
