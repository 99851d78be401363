import { createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { requireAuth } from '../../index.js';
import { SESSION_SECRET, startStack, type Stack } from '../fixtures/stack.js';
import type { Browser } from '../fixtures/browser.js';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// A slow protected route: it signals when it has started, then waits for the test to release it,
// then changes the session (so express-session tries to save it on the way out).
let slow: { entered: Deferred; release: Deferred } = { entered: deferred(), release: deferred() };

let stack: Stack;
let redis: Redis;
beforeAll(async () => {
  stack = await startStack({
    // These tests edit Redis behind fedgate's back and write req.session from a route: they test the
    // store-level guarantees, so the in-process session cache is off (test/flow/session-cache.test.ts covers it).
    config: (c) => {
      (c.session as Record<string, unknown>).cacheTtl = 0;
    },
    routes: (app) => {
      app.get('/slow', requireAuth(), async (req, res) => {
        // The full express-session path, so the late save below is really attempted.
        expect(req.session).toBeDefined();
        slow.entered.resolve();
        await slow.release.promise;
        Object.assign(req.session, { lastVisit: Date.now() });
        res.json({ sub: req.auth.sub });
      });
    },
  });
  stack.op.accounts.mallory = { email: 'mallory@example.com', name: 'Mallory', roles: [] };
  redis = stack.redis.client();
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

const json = { headers: { accept: 'application/json' } };
const cookieName = 'fedgate.sid';

/** The express-session id inside the signed cookie `s:<id>.<signature>`. */
function sessionIdOf(browser: Browser): string {
  const raw = browser.cookies.get(stack.url, cookieName);
  if (!raw) throw new Error('no session cookie');
  const value = decodeURIComponent(raw);
  expect(value.startsWith('s:')).toBe(true);
  return value.slice(2, value.lastIndexOf('.'));
}

/** A cookie express-session accepts as genuine (signed with the real secret) for `id`. */
function signedCookie(id: string): string {
  const mac = createHmac('sha256', SESSION_SECRET).update(id).digest('base64').replace(/=+$/, '');
  return encodeURIComponent(`s:${id}.${mac}`);
}

function plant(browser: Browser, value: string): void {
  browser.cookies.set(stack.url, `${cookieName}=${value}; Path=/; HttpOnly`);
}

const sessionKey = (id: string) => `fedgate:sess:${id}`;

async function loginAs(account: string, browser = stack.browser()): Promise<Browser> {
  stack.op.nextLogin = account;
  try {
    const res = await browser.follow(`${stack.url}/auth/login/corp?returnTo=%2Fdashboard`);
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${stack.url}/dashboard`);
    return browser;
  } finally {
    stack.op.nextLogin = 'alice';
  }
}

describe('sessions', () => {
  // First in the file: the Redis of this stack is still empty.
  test('anonymous page views create no session cookie and no Redis session', async () => {
    const browser = stack.browser();
    for (const [path, status] of [
      ['/', 200],
      ['/dashboard', 302],
      ['/auth/userinfo', 401],
      ['/auth/jwks.json', 200],
    ] as const) {
      const res = await browser.get(`${stack.url}${path}`, path === '/auth/userinfo' ? json : {});
      expect(res.status).toBe(status);
      expect(res.setCookies).toEqual([]);
    }
    expect((await browser.get(`${stack.url}/dashboard`, json)).setCookies).toEqual([]);
    expect(await redis.keys('*')).toEqual([]);
  });

  test('the session cookie is HttpOnly, SameSite=Lax, Path=/, not Secure on http, and opaque', async () => {
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/auth/login/corp`);
    const callback = res.responses.find((r) => new URL(r.url).pathname === '/auth/callback/corp')!;
    const header = callback.setCookies.find((c) => c.startsWith(`${cookieName}=`))!;
    expect(header).toBeDefined();
    const attrs = header
      .split(';')
      .slice(1)
      .map((a) => a.trim().toLowerCase());
    expect(attrs).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=lax']));
    expect(attrs.some((a) => a.startsWith('expires='))).toBe(true);
    expect(attrs).not.toContain('secure');
    expect(attrs.some((a) => a.startsWith('domain='))).toBe(false);
    // Only an opaque id: no upstream token, claim or e-mail travels in any cookie.
    for (const cookie of browser.cookies.all(stack.url)) {
      expect(cookie.value.length).toBeLessThan(160);
      expect(cookie.value).not.toMatch(/alice|eyJ/);
    }
    const tx = res.responses[0]!.setCookies.find((c) => c.startsWith('fedgate.tx='))!;
    expect(tx.split(';').map((a) => a.trim())).toEqual(expect.arrayContaining(['Path=/auth', 'HttpOnly', 'SameSite=Lax']));
  });

  test('a planted (forged, validly signed) session cookie is replaced at login and never stored', async () => {
    const planted = randomBytes(32).toString('base64url');
    const browser = stack.browser();
    plant(browser, signedCookie(planted));
    await loginAs('alice', browser);
    const after = sessionIdOf(browser);
    expect(after).not.toBe(planted);
    expect(await redis.exists(sessionKey(planted))).toBe(0);
    expect(await redis.exists(sessionKey(after))).toBe(1);
  });

  test("an attacker's own session cookie planted in a victim's browser is regenerated at the victim's login", async () => {
    const attacker = await loginAs('mallory');
    const attackerCookie = attacker.cookies.get(stack.url, cookieName)!;
    const attackerId = sessionIdOf(attacker);
    expect(await redis.exists(sessionKey(attackerId))).toBe(1);

    const victim = stack.browser();
    plant(victim, attackerCookie);
    expect((await victim.get(`${stack.url}/dashboard`, json)).json()).toMatchObject({ sub: 'corp|mallory' });
    await loginAs('alice', victim);
    const victimId = sessionIdOf(victim);
    expect(victimId).not.toBe(attackerId);
    expect((await victim.get(`${stack.url}/dashboard`, json)).json()).toMatchObject({ sub: 'corp|alice' });
    // The old id maps to nothing, so the attacker's copy of the cookie reaches no one's session.
    expect(await redis.exists(sessionKey(attackerId))).toBe(0);
    const res = await attacker.get(`${stack.url}/dashboard`, json);
    expect(res.status).toBe(401);
    expect(res.body).not.toContain('alice');
  });

  test('logout destroys the Redis key, clears the cookie, and the old cookie is then worthless', async () => {
    const browser = await loginAs('alice');
    const cookie = browser.cookies.get(stack.url, cookieName)!;
    const id = sessionIdOf(browser);
    expect(await redis.exists(sessionKey(id))).toBe(1);

    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect(out.status).toBe(302);
    const cleared = out.setCookies.find((c) => c.startsWith(`${cookieName}=`))!;
    expect(cleared).toMatch(/^fedgate\.sid=;/);
    expect(cleared).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/i);
    expect(cleared).toContain('Path=/');
    expect(browser.cookies.get(stack.url, cookieName)).toBeUndefined();
    expect(await redis.exists(sessionKey(id))).toBe(0);

    const replay = stack.browser();
    plant(replay, cookie);
    const res = await replay.get(`${stack.url}/dashboard`, json);
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
    expect((await replay.get(`${stack.url}/`)).body).toBe('hello');
    expect(await redis.exists(sessionKey(id))).toBe(0);
  });

  test('a cross-site logout POST is refused and the session survives', async () => {
    const browser = await loginAs('alice');
    const id = sessionIdOf(browser);
    const res = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: 'https://evil.example', accept: 'application/json' } });
    expect({ status: res.status, body: res.json() }).toEqual({
      status: 403,
      body: { error: 'logout_cross_site', code: 'LOGOUT_CROSS_SITE', message: 'Sign-out must be requested from this site.' },
    });
    expect(await redis.exists(sessionKey(id))).toBe(1);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  });

  test('a slow request that finishes after logout does not bring the session back', async () => {
    slow = { entered: deferred(), release: deferred() };
    const browser = await loginAs('alice');
    const cookie = browser.cookies.get(stack.url, cookieName)!;
    const id = sessionIdOf(browser);

    const inFlight = browser.get(`${stack.url}/slow`, json);
    await slow.entered.promise;
    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect(out.status).toBe(302);
    expect(await redis.exists(sessionKey(id))).toBe(0);

    slow.release.resolve();
    const late = await inFlight;
    expect(late.status).toBe(200);
    expect(await redis.exists(sessionKey(id))).toBe(0);
    expect(await redis.keys(`fedgate:sess:*`)).not.toContain(sessionKey(id));

    const replay = stack.browser();
    plant(replay, cookie);
    expect((await replay.get(`${stack.url}/dashboard`, json)).status).toBe(401);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(401);
  });

  test('a tampered or foreign cookie counts as no session (never an error)', async () => {
    const browser = await loginAs('alice');
    const good = decodeURIComponent(browser.cookies.get(stack.url, cookieName)!);
    // The id's first character changed (to another one: ids are random, one in 64 starts with 'A').
    const otherId = good.replace(/^s:(.)/, (_m, c: string) => `s:${c === 'A' ? 'B' : 'A'}`);
    expect(otherId).not.toBe(good);
    for (const bad of [`${good}x`, otherId, 'garbage', 's:', encodeURIComponent('s:'.padEnd(300, 'a'))]) {
      const other = stack.browser();
      plant(other, bad.startsWith('s:') ? encodeURIComponent(bad) : bad);
      const res = await other.get(`${stack.url}/dashboard`, json);
      expect(res.status).toBe(401);
    }
  });

  test('corrupted session data in Redis counts as no session', async () => {
    const browser = await loginAs('alice');
    const id = sessionIdOf(browser);
    for (const value of ['not json', '{"cookie":{},"fedgate":{"v":1,"sub":42}}', '[]']) {
      await redis.set(sessionKey(id), value, 'EX', 60, 'XX');
      const res = await browser.get(`${stack.url}/dashboard`, json);
      expect(res.status).toBe(401);
    }
  });

  test('every key fedgate wrote in Redis has a TTL', async () => {
    // A finished login, a pending one (kept in the browser, not in Redis) and a logged-out one.
    await loginAs('alice');
    await stack.browser().get(`${stack.url}/auth/login/corp`);
    const out = await loginAs('alice');
    await out.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });

    const keys = await redis.keys('*');
    expect(keys.length).toBeGreaterThan(3);
    expect(keys.filter((k) => k.startsWith('fedgate:sess:')).length).toBeGreaterThan(0);
    expect(keys.filter((k) => k.startsWith('fedgate:txu:')).length).toBeGreaterThan(0);
    const ttls = await Promise.all(keys.map(async (k) => [k, await redis.ttl(k)] as const));
    expect(ttls.filter(([, ttl]) => ttl <= 0)).toEqual([]);
    expect(keys.every((k) => k.startsWith('fedgate:'))).toBe(true);
  });
});
