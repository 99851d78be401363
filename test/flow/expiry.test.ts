import type { Redis } from 'ioredis';
import { startStack, type Stack } from '../fixtures/stack.js';
import { testClock } from '../fixtures/clock.js';

// Realistic lifetimes: the test moves the gateway's clock instead of waiting them out. Redis's
// own key TTLs run on Redis's clock (real seconds, here 10+ minutes), so every ending below is
// fedgate's own check against the injected clock, not Redis forgetting a key.
const idleTimeout = 600;
const absoluteTimeout = 3600;
const S = 1000;

const clock = testClock();
let stack: Stack;
let redis: Redis;
beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      Object.assign(c.session as Record<string, unknown>, { idleTimeout, absoluteTimeout });
    },
    options: { now: clock.now },
  });
  redis = stack.redis.client();
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

interface Session {
  /** The raw cookie pair, replayed by hand: the jar would drop it once its Expires passed. */
  cookie: string;
  key: string;
  /** Gateway clock just before the login started and once it had completed. */
  startedAt: number;
  loggedInAt: number;
}

/** Logs in at wall time (the OP's ID token is checked against the gateway clock). */
async function login(): Promise<Session> {
  clock.reset();
  const startedAt = clock.now();
  const browser = await stack.login();
  const loggedInAt = clock.now();
  const value = browser.cookies.get(stack.url, 'fedgate.sid')!;
  const decoded = decodeURIComponent(value);
  return { cookie: `fedgate.sid=${value}`, key: `fedgate:sess:${decoded.slice(2, decoded.lastIndexOf('.'))}`, startedAt, loggedInAt };
}

/** A request carrying only the session cookie. */
async function dashboard(s: Session): Promise<number> {
  const res = await stack.browser().get(`${stack.url}/dashboard`, { headers: { accept: 'application/json', cookie: s.cookie } });
  expect([200, 401]).toContain(res.status);
  return res.status;
}

describe('idle and absolute timeouts (server-side)', () => {
  test('the absolute timeout ends a session that is active all along', async () => {
    const s = await login();
    // A request every 9 minutes carries the session well past the idle timeout...
    let requests = 0;
    for (let at = s.loggedInAt + 540 * S; at < s.startedAt + absoluteTimeout * S - 60 * S; at += 540 * S) {
      clock.set(at);
      expect(await dashboard(s)).toBe(200);
      requests++;
    }
    expect(requests).toBeGreaterThanOrEqual(absoluteTimeout / idleTimeout);
    clock.set(s.startedAt + absoluteTimeout * S - 5 * S);
    expect(await dashboard(s)).toBe(200);
    // ...but not past the absolute one, which ends it on time.
    clock.set(s.loggedInAt + absoluteTimeout * S);
    expect(await dashboard(s)).toBe(401);
    // Server-side: the cookie (replayed as is) cannot revive it, and Redis holds nothing for it.
    expect(await redis.exists(s.key)).toBe(0);
    expect(await dashboard(s)).toBe(401);
  });

  test('the idle timeout ends a quiet session even while Redis still holds it', async () => {
    const s = await login();
    clock.set(s.startedAt + idleTimeout * S - 5 * S);
    expect(await dashboard(s)).toBe(200); // activity: the idle period starts again here
    const lastActive = clock.now();
    clock.set(lastActive + idleTimeout * S - 5 * S);
    expect(await dashboard(s)).toBe(200);

    clock.advance(idleTimeout * S + 1 * S);
    expect(await redis.exists(s.key)).toBe(1); // only fedgate's own check can end it
    expect(await dashboard(s)).toBe(401);
    expect(await redis.exists(s.key)).toBe(0);
    expect(await dashboard(s)).toBe(401);
  });

  test('every session key carries a TTL no longer than the time the session has left', async () => {
    const s = await login();
    const fresh = await redis.pttl(s.key);
    expect(fresh).toBeGreaterThan(0);
    // Until the idle timeout (plus the lastSeen write-back granularity, at most a minute).
    expect(fresh).toBeLessThanOrEqual((idleTimeout + 60) * S);

    // Near the absolute timeout, the key lives no longer than the session may.
    const late = s.startedAt + absoluteTimeout * S - 100 * S;
    for (let at = s.loggedInAt + 540 * S; at < late; at += 540 * S) {
      clock.set(at);
      expect(await dashboard(s)).toBe(200);
    }
    clock.set(late);
    expect(await dashboard(s)).toBe(200); // writes lastSeen back, so the key's TTL is set anew
    const left = await redis.pttl(s.key);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(101 * S); // whole seconds, rounded up
  });
});
