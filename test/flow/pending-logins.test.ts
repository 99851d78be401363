import type { Redis } from 'ioredis';
import { startStack, SESSION_SECRET, type Stack } from '../fixtures/stack.js';
import type { Browser, BrowserResponse } from '../fixtures/browser.js';

// Pending logins live in the browser (an encrypted cookie per login, bounded in count and size):
// a login start writes nothing to Redis, whoever sends it and however often.
const ROTATED_SECRET = 'rotated-session-secret-9876543210-zyxwvutsrqponm';

let stack: Stack;
let rotated: Stack;
let replaced: Stack;
let redis: Redis;
let skewMs = 0;
beforeAll(async () => {
  stack = await startStack({ options: { now: () => Date.now() + skewMs } });
  // Two more instances behind the same public origin: one after a secret rotation (new first,
  // old still accepted), one whose old secret was dropped.
  const sameOrigin = (secret: string[]) => (c: Record<string, unknown>) => {
    c.baseUrl = stack.url;
    (c.session as Record<string, unknown>).secret = secret;
  };
  rotated = await startStack({ redis: stack.redis, sharedOp: stack.op, config: sameOrigin([ROTATED_SECRET, SESSION_SECRET]) });
  replaced = await startStack({ redis: stack.redis, sharedOp: stack.op, config: sameOrigin([ROTATED_SECRET]) });
  redis = stack.redis.client();
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  await replaced?.close();
  await rotated?.close();
  await stack?.close();
});
beforeEach(() => {
  skewMs = 0;
  stack.op.reset();
});

const json = { headers: { accept: 'application/json' } };
const stateInvalid = {
  error: 'callback_state_invalid',
  code: 'CALLBACK_STATE_INVALID',
  message: 'This sign-in link is no longer valid. Please start the sign-in again.',
};

async function callbackUrl(browser: Browser): Promise<URL> {
  const res = await browser.follow(`${stack.url}/auth/login/corp`, {
    stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
  });
  if (!res.stoppedAt) throw new Error(`login did not reach the callback: ${res.status} ${res.url}`);
  return new URL(res.stoppedAt);
}

const pendingCookies = (browser: Browser) => browser.cookies.all(stack.url).filter((c) => c.name.startsWith('fedgate.login.'));

function expectStateInvalid(res: BrowserResponse): void {
  expect({ status: res.status, body: res.json() }).toEqual({ status: 400, body: stateInvalid });
}

/** Runs `count` calls of `fn`, `width` at a time. */
async function pool(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

describe('pending logins are kept in the browser', () => {
  test('1000 login starts from one browser and 1000 anonymous ones write no Redis key', async () => {
    await redis.flushall();
    const browser = stack.browser();
    // One after the other, as one browser's tabs would: each start sees the cookies of the last.
    await pool(1000, 1, async () => {
      const res = await browser.get(`${stack.url}/auth/login/corp`);
      expect(res.status).toBe(302);
    });
    await pool(1000, 8, async () => {
      expect((await stack.browser().get(`${stack.url}/auth/login/corp`)).status).toBe(302);
    });
    expect(await redis.dbsize()).toBe(0);
    // Bounded in the browser too: the newest few pending logins, a few KiB of cookies in all.
    const kept = pendingCookies(browser);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(4);
    expect(kept.reduce((n, c) => n + c.name.length + c.value.length, 0)).toBeLessThanOrEqual(8192);
  }, 120_000);

  test('the newest pending logins stay usable, the oldest are dropped', async () => {
    const browser = stack.browser();
    const urls: URL[] = [];
    for (let i = 0; i < 6; i += 1) urls.push(await callbackUrl(browser));
    expect(pendingCookies(browser)).toHaveLength(4);
    expectStateInvalid(await browser.get(urls[0]!.href, json));
    expect(stack.op.tokenRequests).toHaveLength(0);
    expect((await browser.get(urls[5]!.href)).status).toBe(302);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  });

  test('long returnTo values cannot push the cookies past the size budget', async () => {
    const browser = stack.browser();
    const returnTo = encodeURIComponent(`/${'x'.repeat(2000)}`);
    for (let i = 0; i < 6; i += 1) {
      expect((await browser.get(`${stack.url}/auth/login/corp?returnTo=${returnTo}`)).status).toBe(302);
    }
    const kept = pendingCookies(browser);
    expect(kept.reduce((n, c) => n + c.name.length + c.value.length, 0)).toBeLessThanOrEqual(8192);
  });

  test('pending-login cookies: HttpOnly, SameSite=Lax, Path limited to the auth routes, opaque', async () => {
    const browser = stack.browser();
    const res = await browser.get(`${stack.url}/auth/login/corp?returnTo=%2Fsecret-place`);
    const header = res.setCookies.find((c) => c.startsWith('fedgate.login.'))!;
    expect(header).toBeDefined();
    const attrs = header
      .split(';')
      .slice(1)
      .map((a) => a.trim());
    expect(attrs).toEqual(expect.arrayContaining(['Path=/auth', 'HttpOnly', 'SameSite=Lax']));
    const value = header.slice(header.indexOf('=') + 1, header.indexOf(';'));
    expect(Buffer.from(value, 'base64url').toString('latin1')).not.toMatch(/secret-place|corp|codeVerifier|nonce/);
  });

  test('the callback clears the cookie and remembers the state as used (bounded by callbacks, with a TTL)', async () => {
    await redis.flushall();
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const [cookie] = pendingCookies(browser);
    const res = await browser.get(url.href);
    expect(res.status).toBe(302);
    expect(res.setCookies.some((c) => c.startsWith(`${cookie!.name}=;`) && /Max-Age=0/.test(c))).toBe(true);
    expect(pendingCookies(browser)).toHaveLength(0);
    const used = await redis.keys('fedgate:txu:*');
    expect(used).toHaveLength(1);
    const ttl = await redis.ttl(used[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  test('callbacks that fail upstream (a forged code) leave no Redis key; the retry is refused', async () => {
    await redis.flushall();
    for (let i = 0; i < 20; i += 1) {
      const browser = stack.browser();
      const url = await callbackUrl(browser);
      url.searchParams.set('code', `forged-${i}`);
      const res = await browser.get(url.href, json);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.json()).not.toMatchObject({ code: 'CALLBACK_STATE_INVALID' });
    }
    expect(stack.op.tokenRequests).toHaveLength(20);
    expect(await redis.dbsize()).toBe(0);
  });

  test('two concurrent callbacks of one login make one session at most', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const cookieHeader = browser.cookies.header(url.href)!;
    const send = () => fetch(url.href, { headers: { cookie: cookieHeader, accept: 'application/json' }, redirect: 'manual' });
    const results = await Promise.all([send(), send()]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((st) => st === 302)).toHaveLength(1);
    const other = results.find((r) => r.status !== 302)!;
    expect(other.status).toBeGreaterThanOrEqual(400);
    expect(other.headers.getSetCookie().some((c) => c.startsWith('fedgate.sid='))).toBe(false);
  });

  test('a replay with the pending-login cookie put back is refused, with no token request', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const [cookie] = pendingCookies(browser);
    expect((await browser.get(url.href)).status).toBe(302);
    const tokenRequests = stack.op.tokenRequests.length;
    browser.cookies.set(stack.url, `${cookie!.name}=${cookie!.value}; Path=/auth`);
    expectStateInvalid(await browser.get(url.href, json));
    expect(stack.op.tokenRequests).toHaveLength(tokenRequests);
  });

  test('a pending-login cookie stolen without the browser binding is refused', async () => {
    const victim = stack.browser();
    const url = await callbackUrl(victim);
    const [cookie] = pendingCookies(victim);
    const attacker = stack.browser();
    await callbackUrl(attacker);
    attacker.cookies.set(stack.url, `${cookie!.name}=${cookie!.value}; Path=/auth`);
    expectStateInvalid(await attacker.get(url.href, json));
    expect(stack.op.tokenRequests).toHaveLength(0);
  });

  test('a tampered or foreign cookie is refused, never a 500', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const [cookie] = pendingCookies(browser);
    const flipped = `${cookie!.value.slice(0, 20)}${cookie!.value[20] === 'A' ? 'B' : 'A'}${cookie!.value.slice(21)}`;
    for (const value of [flipped, 'garbage', '', 'x'.repeat(5000)]) {
      browser.cookies.set(stack.url, `${cookie!.name}=${value}; Path=/auth`);
      expectStateInvalid(await browser.get(url.href, json));
    }
    expect(stack.op.tokenRequests).toHaveLength(0);
  });

  test('an expired pending login is refused even while the browser still sends its cookie', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    skewMs = 601_000;
    expectStateInvalid(await browser.get(url.href, json));
    expect(stack.op.tokenRequests).toHaveLength(0);
  });
});

describe('secret rotation', () => {
  /** Starts a login on the first instance and completes it on `other` (same public origin). */
  async function completeOn(other: Stack): Promise<BrowserResponse> {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    for (const c of browser.cookies.all(stack.url)) browser.cookies.set(other.url, `${c.name}=${c.value}; Path=${c.path}`);
    return browser.get(`${other.url}${url.pathname}${url.search}`, json);
  }

  test('a login started under the old secret completes after rotation (new first, old still listed)', async () => {
    const res = await completeOn(rotated);
    expect(res.status).toBe(302);
  });

  test('once the old secret is dropped, its pending logins are refused', async () => {
    expectStateInvalid(await completeOn(replaced));
    expect(stack.op.tokenRequests).toHaveLength(0);
  });
});
