import type { Redis } from 'ioredis';
import type express from 'express';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { startOp, ALICE, type TestOp } from '../fixtures/op.js';
import { waitFor } from '../fixtures/ports.js';
import { testClock } from '../fixtures/clock.js';
import { deferred, getJson, refreshCount, sessionCookie, sessionKey, storedAuth, type JsonResponse } from './helpers.js';

// Upstream access tokens live 5 minutes; the default idle timeout (30 minutes) has `lastSeen`
// written back once it is a minute old. The tests move the gateway clock (shared by all four
// instances) instead of waiting; each login starts at wall time, as the OP signs with its own
// clock. Two instances with the default session cache (a, b), and two
// with `cacheTtl: 0` (c, d), where app routes always get `req.session` and express-session writes
// it back at the end of each request: the case the store's write guards exist for.
let redis: RedisServer;
let op: TestOp;
let a: Stack;
let b: Stack;
let c: Stack;
let d: Stack;
let direct: Redis;
const ACCESS_TOKEN_TTL = 300;
const S = 1000;
const clock = testClock();

/** A route that holds the request (after the session was loaded) until released, then writes to the session. */
let gate = deferred();
let arrived = deferred();
function slowRoute(app: express.Express): void {
  app.get('/slow', async (req, res) => {
    if (!req.auth.isAuthenticated) {
      res.status(401).json({ code: 'UNAUTHORIZED' });
      return;
    }
    arrived.release();
    await gate.promise;
    const s = req.session as unknown as { visits?: number };
    s.visits = (s.visits ?? 0) + 1;
    res.json({ ok: true });
  });
}

beforeAll(async () => {
  redis = await startRedis();
  op = await startOp({
    ttl: { AccessToken: ACCESS_TOKEN_TTL },
    issueRefreshToken: true,
    rotateRefreshToken: true,
    accounts: { bob: { ...ALICE, name: 'Bob', email: 'bob@example.com' } },
  });
  const noCache = (cfg: Record<string, unknown>) => {
    (cfg.session as Record<string, unknown>).cacheTtl = 0;
  };
  const options = { now: clock.now };
  a = await startStack({ redis, sharedOp: op, options });
  b = await startStack({
    redis,
    sharedOp: op,
    options,
    config: (cfg) => {
      cfg.baseUrl = a.url;
    },
  });
  c = await startStack({ redis, sharedOp: op, options, config: noCache, routes: slowRoute });
  d = await startStack({
    redis,
    sharedOp: op,
    options,
    config: (cfg) => {
      noCache(cfg);
      cfg.baseUrl = c.url;
    },
    routes: slowRoute,
  });
  direct = redis.client();
});
afterAll(async () => {
  gate.release();
  direct?.disconnect();
  for (const s of [d, c, b, a]) await s?.close();
  await op?.close();
  await redis?.stop();
});
beforeEach(() => {
  clock.reset();
  op.reset();
  gate = deferred();
  arrived = deferred();
});

async function signIn(account = 'alice', on: Stack = a): Promise<string> {
  op.nextLogin = account;
  const browser = await on.login();
  op.nextLogin = 'alice';
  return sessionCookie(browser, on.url);
}

/** Starts GET /slow and resolves once the handler holds it (the session is loaded). Wrapped: an async function would flatten the promise. */
async function startSlow(origin: string, cookie: string): Promise<{ done: Promise<JsonResponse> }> {
  const done = getJson(`${origin}/slow`, { cookie });
  await Promise.race([
    arrived.promise,
    done.then((r) => {
      throw new Error(`slow request ended early: ${r.status}`);
    }),
  ]);
  return { done };
}

describe('revokeSessions', () => {
  test("revoking on one instance ends the sessions on every instance, and only that user's", async () => {
    const alice1 = await signIn();
    const alice2 = await signIn();
    const bob = await signIn('bob');
    for (const k of [alice1, alice2]) {
      expect((await getJson(`${a.url}/dashboard`, { cookie: k })).status).toBe(200);
      expect((await getJson(`${b.url}/dashboard`, { cookie: k })).status).toBe(200);
    }
    expect(await b.gateway.revokeSessions({ sub: 'corp|alice' })).toBe(2);
    for (const k of [alice1, alice2]) expect(await direct.exists(sessionKey(k))).toBe(0);
    // Instance a served these sessions from its cache a moment ago: the invalidation reaches it
    // through Redis pub/sub (documented bound: session.cacheTtl, 1 s).
    const revokedAt = Date.now();
    await waitFor('instance a to see the revocation', async () => (await getJson(`${a.url}/dashboard`, { cookie: alice1 })).status === 401, {
      timeoutMs: 1500,
    });
    expect(Date.now() - revokedAt).toBeLessThan(1100);
    for (const k of [alice1, alice2]) {
      expect((await getJson(`${a.url}/dashboard`, { cookie: k })).status).toBe(401);
      expect((await getJson(`${b.url}/dashboard`, { cookie: k })).status).toBe(401);
    }
    expect(await direct.exists('fedgate:idx:sub:corp|alice')).toBe(0);
    expect((await getJson(`${a.url}/dashboard`, { cookie: bob })).body).toMatchObject({ sub: 'corp|bob' });
    expect(await a.gateway.revokeSessions({ sub: 'corp|alice' })).toBe(0);
  });

  test('an empty subject is refused', async () => {
    await expect(a.gateway.revokeSessions({ sub: '' })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'INVALID_ARGUMENT',
      message: 'revokeSessions: sub must be a non-empty string',
    });
  });
});

describe('a request in flight cannot undo a logout', () => {
  test('a slow request that started before logout does not re-save the session', async () => {
    const cookie = await signIn('alice', c);
    const slow = await startSlow(c.url, cookie);
    const logout = await fetch(`${c.url}/auth/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(logout.status).toBe(302);
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
    gate.release();
    // It was signed in when it started, so it completes; but its session write must not land.
    expect((await slow.done).status).toBe(200);
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
    expect((await getJson(`${c.url}/dashboard`, { cookie })).status).toBe(401);
  });

  test('a slow request on one instance cannot bring back a session revoked from the other', async () => {
    const cookie = await signIn('alice', c);
    const slow = await startSlow(c.url, cookie);
    expect(await d.gateway.revokeSessions({ sub: 'corp|alice' })).toBeGreaterThanOrEqual(1);
    gate.release();
    expect((await slow.done).status).toBe(200);
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
    expect((await getJson(`${d.url}/dashboard`, { cookie })).status).toBe(401);
    expect((await getJson(`${c.url}/dashboard`, { cookie })).status).toBe(401);
  });

  test('a stale request cannot overwrite a newer refreshed revision', async () => {
    const cookie = await signIn('alice', c);
    const first = await storedAuth(direct, cookie);
    // Old enough that the stale request writes `lastSeen` back (1 min granularity), not yet due for refresh.
    clock.advance(61 * S);
    const slow = await startSlow(c.url, cookie);
    expect((await storedAuth(direct, cookie))?.rev).toBe(first!.rev);

    clock.advance(ACCESS_TOKEN_TTL * S); // the upstream token is due
    expect((await getJson(`${d.url}/dashboard`, { cookie })).status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(1);
    const refreshed = await storedAuth(direct, cookie);
    expect(refreshed?.rev).toBe(first!.rev + 1);
    expect(refreshed?.upstream.refreshToken).not.toBe(first!.upstream.refreshToken);

    gate.release();
    expect((await slow.done).status).toBe(200);
    const after = await storedAuth(direct, cookie);
    expect(after?.rev).toBe(refreshed!.rev);
    expect(after?.upstream.refreshToken).toBe(refreshed!.upstream.refreshToken);
    expect(after?.upstream.accessToken).toBe(refreshed!.upstream.accessToken);

    // The surviving (rotated) refresh token still works: the next refresh succeeds.
    clock.advance(ACCESS_TOKEN_TTL * S);
    expect((await getJson(`${c.url}/dashboard`, { cookie })).status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(2);
    expect(op.serverErrors).toEqual([]);
  });
});
