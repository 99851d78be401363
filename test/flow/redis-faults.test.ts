import realProcess from 'node:process';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { waitFor } from '../fixtures/ports.js';
import type { Browser, BrowserResponse } from '../fixtures/browser.js';
import { testClock } from '../fixtures/clock.js';

// Redis fails under a running app: the protected routes answer 503 + Retry-After within 3 s and
// never 200, public routes keep working, and the app recovers by itself. AOF with fsync on every
// write, so a session survives the SIGKILL and the recovery can be shown on the same session.
const json = { headers: { accept: 'application/json' } };
const cacheTtlSeconds = 1;
const clock = testClock();
const failures: unknown[] = [];
const onFailure = (reason: unknown): void => {
  failures.push(reason);
};

let redis: RedisServer;
let stack: Stack;
beforeAll(async () => {
  // Jest 30 also fails a test on an unhandled rejection; this listener makes the rule explicit.
  realProcess.on('unhandledRejection', onFailure);
  realProcess.on('uncaughtException', onFailure);
  redis = await startRedis({ appendonly: true, args: ['--appendfsync', 'always'] });
  stack = await startStack({
    redis,
    // The shipped default, stated here because the pause test lets cache entries lapse.
    config: (c) => {
      (c.session as Record<string, unknown>).cacheTtl = cacheTtlSeconds;
    },
    options: { now: clock.now },
  });
});
afterAll(async () => {
  realProcess.off('unhandledRejection', onFailure);
  realProcess.off('uncaughtException', onFailure);
  await stack?.close();
  await redis?.stop();
});
afterEach(() => {
  clock.reset();
  expect(failures).toEqual([]);
});

async function timed(fn: () => Promise<BrowserResponse>): Promise<BrowserResponse & { ms: number }> {
  const started = Date.now();
  const res = await fn();
  return Object.assign(res, { ms: Date.now() - started });
}

function expectUnavailable(res: BrowserResponse & { ms: number }): void {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(res.ms).toBeLessThan(3000);
}

async function signedIn(): Promise<Browser> {
  const browser = await stack.login();
  expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  return browser;
}

describe('Redis faults', () => {
  test('Redis stopped: protected 503 + Retry-After within 3 s, public 200, login callback 503; back without restarting the app', async () => {
    const browser = await signedIn();
    await redis.kill();

    const api = await timed(() => browser.get(`${stack.url}/dashboard`, json));
    expectUnavailable(api);
    expect(api.json()).toEqual({
      error: 'temporarily_unavailable',
      code: 'SESSION_STORE_UNAVAILABLE',
      message: 'The service is temporarily unavailable; try again shortly.',
    });
    // Browser navigation is not sent to the login page either: the store failed, the user did not sign out.
    expectUnavailable(await timed(() => browser.get(`${stack.url}/dashboard`)));
    expectUnavailable(await timed(() => browser.get(`${stack.url}/api/reports`, json)));
    expectUnavailable(await timed(() => browser.get(`${stack.url}/auth/userinfo`, json)));

    const home = await timed(() => browser.get(`${stack.url}/`));
    expect(home.status).toBe(200);
    expect(home.body).toBe('hello');
    expect((await stack.browser().get(`${stack.url}/`)).status).toBe(200);

    // A login start needs no Redis (the pending login is a browser cookie); its callback does
    // (the state is marked used there), and says so instead of signing anyone in.
    const newcomer = stack.browser();
    const started = await newcomer.follow(`${stack.url}/auth/login/corp`, {
      stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
    });
    expect(started.stoppedAt).toBeDefined();
    const login = await timed(() => newcomer.get(started.stoppedAt!, json));
    expectUnavailable(login);
    expect(login.json()).toEqual({
      error: 'session_store_unavailable',
      code: 'SESSION_STORE_UNAVAILABLE',
      message: 'The session store is unavailable; please try again shortly.',
    });

    // Sign-out cannot destroy the session now: it says so (503) instead of pretending, and keeps
    // the cookie so that the user can sign out for real once the store is back.
    const logout = await timed(() => browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url, accept: 'application/json' } }));
    expectUnavailable(logout);
    expect(logout.json()).toEqual({
      error: 'session_store_unavailable',
      code: 'SESSION_STORE_UNAVAILABLE',
      message: 'Sign-out could not be completed; please try again shortly.',
    });
    expect(logout.setCookies.filter((c) => c.startsWith('fedgate.sid='))).toEqual([]);
    expect(browser.cookies.get(stack.url, 'fedgate.sid')).toBeDefined();

    await redis.restart();
    const back = await waitFor(
      'the app to reach Redis again',
      async () => {
        const res = await browser.get(`${stack.url}/dashboard`, json);
        expect(res.status).not.toBe(500);
        return res.status === 503 ? undefined : res;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(back.status).toBe(200);
    expect(back.json()).toMatchObject({ sub: 'corp|alice' });
    // Now sign-out works, and a new login too.
    expect((await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } })).status).toBe(302);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(401);
    await signedIn();
  });

  test('Redis paused (SIGSTOP): 503 within 3 s and never 200; resumed: back to 200', async () => {
    const browser = await signedIn();
    // Let the in-process session cache entry of this browser lapse so the requests below must ask
    // Redis (within cacheTtl a verified session may be served from memory: session-cache.test.ts).
    clock.advance(cacheTtlSeconds * 1000 + 50);

    redis.pause();
    try {
      const results: Array<BrowserResponse & { ms: number }> = [];
      for (let i = 0; i < 2; i++) results.push(await timed(() => browser.get(`${stack.url}/dashboard`, json)));
      for (const res of results) expectUnavailable(res);
      expect(results.map((r) => r.json<{ code: string }>().code)).toEqual(Array(2).fill('SESSION_STORE_UNAVAILABLE'));
      // Concurrent requests all fail closed too.
      const burst = await Promise.all(Array.from({ length: 5 }, () => timed(() => browser.get(`${stack.url}/dashboard`, json))));
      for (const res of burst) expectUnavailable(res);
      // A public page without a session does not need Redis at all.
      expect((await stack.browser().get(`${stack.url}/`)).status).toBe(200);
    } finally {
      redis.resume();
    }
    const back = await waitFor(
      'the protected route after resume',
      async () => {
        const res = await browser.get(`${stack.url}/dashboard`, json);
        return res.status === 200 ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(back.json()).toMatchObject({ sub: 'corp|alice' });
  });

  test('readiness reports Redis down and up', async () => {
    await redis.kill();
    const down = await stack.gateway.health();
    expect(down.ok).toBe(false);
    expect(down.redis).toBe('down');
    await redis.restart();
    await waitFor('health to report Redis ready', async () => (await stack.gateway.health()).redis === 'ready', { timeoutMs: 10_000, intervalMs: 100 });
  });
});
