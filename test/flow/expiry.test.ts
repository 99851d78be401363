import type { Redis } from 'ioredis';
import { startStack, type Stack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/ports.js';

const idleTimeout = 1;
const absoluteTimeout = 3;

let stack: Stack;
let redis: Redis;
beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      Object.assign(c.session as Record<string, unknown>, { idleTimeout, absoluteTimeout });
    },
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
  startedAt: number;
  loggedInAt: number;
}

async function login(): Promise<Session> {
  const startedAt = Date.now();
  const browser = await stack.login();
  const loggedInAt = Date.now();
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
    const seen: Array<{ at: number; status: number }> = [];
    const endedAt = await waitFor('the absolute timeout', async () => {
      const status = await dashboard(s);
      const at = Date.now();
      seen.push({ at, status });
      return status === 401 ? at : undefined;
    }, { timeoutMs: (absoluteTimeout + 3) * 1000, intervalMs: 150 });

    // Activity carried the session well past the idle timeout...
    expect(seen.some((r) => r.status === 200 && r.at > s.loggedInAt + idleTimeout * 1000 + 500)).toBe(true);
    // ...but not past the absolute one, which ended it on time.
    expect(endedAt).toBeGreaterThanOrEqual(s.startedAt + absoluteTimeout * 1000);
    expect(endedAt).toBeLessThan(s.loggedInAt + absoluteTimeout * 1000 + 1500);
    expect(seen.filter((r) => r.status === 401)).toHaveLength(1);
    // Server-side: the cookie (replayed as is) cannot revive it, and Redis holds nothing for it.
    expect(await dashboard(s)).toBe(401);
    expect(await redis.exists(s.key)).toBe(0);
  });

  test('the idle timeout ends a quiet session even while Redis still holds it', async () => {
    const s = await login();
    expect(await redis.exists(s.key)).toBe(1);
    // Keep the key alive in Redis, so only fedgate's own check can end the session.
    await redis.expire(s.key, 60);
    const quietUntil = s.loggedInAt + idleTimeout * 1000 + 100;
    await waitFor('the idle period', () => Date.now() >= quietUntil, { timeoutMs: (idleTimeout + 2) * 1000, intervalMs: 50 });
    expect(await redis.exists(s.key)).toBe(1);

    expect(await dashboard(s)).toBe(401);
    expect(await redis.exists(s.key)).toBe(0);
    expect(await dashboard(s)).toBe(401);
  });

  test('every session key carries a TTL no longer than the absolute timeout', async () => {
    const s = await login();
    const ttl = await redis.pttl(s.key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(absoluteTimeout * 1000);
  });
});
