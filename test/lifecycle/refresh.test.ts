import { runInNewContext } from 'node:vm';
import { decodeJwt } from 'jose';
import { translateUpstreamError } from '../../connectors/common/errors.js';
import type { Redis } from 'ioredis';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { startOp, ALICE, type TestOp } from '../fixtures/op.js';
import { testClock } from '../fixtures/clock.js';
import { getJson, refreshCount, sessionCookie, sessionKey, storedAuth, upstreamTokenDue } from './helpers.js';

// Upstream access tokens live 5 minutes. Instead of waiting, the tests move the gateway's clock
// (shared by both instances, as on one machine) past that lifetime, where the next request must
// refresh. The OP keeps its own (wall) clock: its refreshed ID tokens stay valid well beyond the
// few lifetimes a test moves forward, and each login starts again at wall time.
const ACCESS_TOKEN_TTL = 300;
const S = 1000;
const clock = testClock();
let redis: RedisServer;
let op: TestOp;
let a: Stack;
let b: Stack;
let direct: Redis;

const tokensRoute = (stack: { app: Stack['app'] }) => {
  stack.app.get('/tokens', (req, res) => {
    if (!req.auth.isAuthenticated) {
      res.status(401).json({ code: 'UNAUTHORIZED' });
      return;
    }
    res.json({ idToken: req.auth.idToken, accessToken: req.auth.accessToken, claims: req.auth.claims });
  });
};

beforeAll(async () => {
  redis = await startRedis();
  op = await startOp({ ttl: { AccessToken: ACCESS_TOKEN_TTL }, issueRefreshToken: true, rotateRefreshToken: true });
  const options = { now: clock.now };
  a = await startStack({ redis, sharedOp: op, options, routes: (app) => tokensRoute({ app }) });
  // A second instance of the same app behind the same public origin.
  b = await startStack({
    redis,
    sharedOp: op,
    options,
    config: (c) => {
      c.baseUrl = a.url;
    },
    routes: (app) => tokensRoute({ app }),
  });
  direct = redis.client();
});
afterAll(async () => {
  direct?.disconnect();
  await b?.close();
  await a?.close();
  await op?.close();
  await redis?.stop();
});
beforeEach(() => {
  clock.reset();
  op.reset();
  op.accounts.alice = structuredClone(ALICE);
});

/** Moves the gateway clock past the upstream access token's lifetime: the next request must refresh. */
const dueSession = (cookie: string) => upstreamTokenDue(clock, ACCESS_TOKEN_TTL, direct, cookie);

async function signIn(): Promise<string> {
  const browser = await a.login();
  op.tokenRequests.length = 0;
  return sessionCookie(browser, a.url);
}

describe('upstream refresh', () => {
  test('a due upstream token is refreshed on the next request and the local claims are re-mapped', async () => {
    const cookie = await signIn();
    const before = await getJson(`${a.url}/tokens`, { cookie });
    expect(before.body.claims).toMatchObject({ name: 'Alice Example', roles: ['analyst'] });
    const stored = await dueSession(cookie);
    op.accounts.alice = { ...structuredClone(ALICE), name: 'Alice Renamed', roles: ['analyst', 'admin'] };

    const after = await getJson(`${a.url}/tokens`, { cookie });
    expect(after.status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(1);
    expect(after.body.claims).toMatchObject({ sub: 'corp|alice', name: 'Alice Renamed', roles: ['analyst', 'admin'] });
    // Local tokens are re-minted from the refreshed claims.
    expect(after.body.accessToken).not.toBe(before.body.accessToken);
    expect(decodeJwt(String(after.body.idToken))).toMatchObject({ name: 'Alice Renamed' });
    expect((await getJson(`${a.url}/admin`, { cookie })).status).toBe(200);

    const refreshed = await storedAuth(direct, cookie);
    expect(refreshed?.rev).toBe(stored.rev + 1);
    expect(refreshed?.upstream.refreshToken).not.toBe(stored.upstream.refreshToken);
    expect(refreshed?.upstream.expiresAt).toBeGreaterThan(stored.upstream.expiresAt!);
    expect(refreshed?.createdAt).toBe(stored.createdAt);
    // Upstream tokens never reach the logs.
    const logs = JSON.stringify(a.logger.lines);
    for (const t of [stored.upstream.refreshToken, refreshed?.upstream.refreshToken, refreshed?.upstream.accessToken]) expect(logs).not.toContain(String(t));
  });

  test('10 concurrent requests on a due token make exactly one refresh, all succeed, and the user stays signed in', async () => {
    const cookie = await signIn();
    await dueSession(cookie);
    const results = await Promise.all(Array.from({ length: 10 }, () => getJson(`${a.url}/dashboard`, { cookie })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(refreshCount(op.tokenRequests)).toBe(1);
    // The rotated refresh token was kept: the next refresh works too (a lost rotation would be invalid_grant).
    await dueSession(cookie);
    expect((await getJson(`${a.url}/dashboard`, { cookie })).status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(2);
    expect(op.serverErrors).toEqual([]);
  });

  test('two instances racing the same session cookie make one refresh', async () => {
    const cookie = await signIn();
    await dueSession(cookie);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => getJson(`${(i % 2 ? b : a).url}/dashboard`, { cookie })));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(refreshCount(op.tokenRequests)).toBe(1);
    const rev = (await storedAuth(direct, cookie))?.rev;
    await dueSession(cookie);
    expect((await getJson(`${b.url}/dashboard`, { cookie })).status).toBe(200);
    expect((await getJson(`${a.url}/dashboard`, { cookie })).status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(2);
    expect((await storedAuth(direct, cookie))?.rev).toBe(rev! + 1);
  });

  test('invalid_grant (refresh token revoked at the OP) ends the session', async () => {
    const cookie = await signIn();
    const stored = await dueSession(cookie);
    const rt = await op.provider.RefreshToken.find(stored.upstream.refreshToken!);
    expect(rt).toBeDefined();
    await rt!.destroy();
    const res = await getJson(`${a.url}/dashboard`, { cookie });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
    expect(refreshCount(op.tokenRequests)).toBe(1);
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
    expect(await direct.sismember('fedgate:idx:sub:corp|alice', sessionKey(cookie).slice('fedgate:sess:'.length))).toBe(0);
    expect((await getJson(`${b.url}/dashboard`, { cookie })).status).toBe(401);
  });

  test('a refreshed ID token for another subject ends the session', async () => {
    const cookie = await signIn();
    await dueSession(cookie);
    op.tamperIdToken = (payload, header) => ({ payload: { ...payload, sub: 'mallory' }, header });
    const res = await getJson(`${a.url}/dashboard`, { cookie });
    expect(res.status).toBe(401);
    expect(refreshCount(op.tokenRequests)).toBe(1);
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
    op.tamperIdToken = undefined;
    expect((await getJson(`${a.url}/dashboard`, { cookie })).status).toBe(401);
  });

  test('an unreachable OP fails that request with 503 and Retry-After, keeps the session, and it works again after', async () => {
    const cookie = await signIn();
    const stored = await dueSession(cookie);
    op.down('reset');
    const res = await getJson(`${a.url}/dashboard`, { cookie });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'The service is temporarily unavailable; try again shortly.',
    });
    expect(res.ms).toBeLessThan(3000);
    const kept = await storedAuth(direct, cookie);
    expect(kept?.rev).toBe(stored.rev);
    expect(kept?.upstream.refreshToken).toBe(stored.upstream.refreshToken);
    // The lock is released, so the next request may try again at once.
    expect(await direct.keys('fedgate:lock:*')).toEqual([]);
    op.up();
    const ok = await getJson(`${a.url}/dashboard`, { cookie });
    expect(ok.status).toBe(200);
    expect((await storedAuth(direct, cookie))?.rev).toBe(stored.rev + 1);
  });

  test('an OP answering 503 during refresh also yields a bounded 503 and keeps the session', async () => {
    const cookie = await signIn();
    await dueSession(cookie);
    op.down('503');
    const res = await getJson(`${a.url}/dashboard`, { cookie });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await direct.exists(sessionKey(cookie))).toBe(1);
    op.up();
    expect((await getJson(`${a.url}/dashboard`, { cookie })).status).toBe(200);
  });
});

describe('absolute timeout', () => {
  const absoluteTimeout = 900;
  let short: Stack;
  beforeAll(async () => {
    short = await startStack({
      redis,
      sharedOp: op,
      options: { now: clock.now },
      config: (c) => {
        (c.session as Record<string, unknown>).absoluteTimeout = absoluteTimeout;
      },
    });
  });
  afterAll(async () => {
    await short?.close();
  });

  test('ends the session although refresh keeps working', async () => {
    // The session starts during login(), so it cannot end before startedAt + absoluteTimeout.
    const startedAt = clock.now();
    const browser = await short.login();
    const loggedInAt = clock.now();
    // Kept by hand: the browser drops the cookie itself at Max-Age, the server must end it regardless.
    const cookie = sessionCookie(browser, short.url);
    op.tokenRequests.length = 0;
    for (let t = loggedInAt + ACCESS_TOKEN_TTL * S; t < startedAt + absoluteTimeout * S; t += ACCESS_TOKEN_TTL * S) {
      clock.set(t);
      expect((await getJson(`${short.url}/dashboard`, { cookie })).status).toBe(200);
    }
    // Refresh did happen while the session lived.
    expect(refreshCount(op.tokenRequests)).toBe(2);
    clock.set(startedAt + absoluteTimeout * S - 5 * S);
    expect((await getJson(`${short.url}/dashboard`, { cookie })).status).toBe(200);
    clock.set(loggedInAt + absoluteTimeout * S);
    expect((await getJson(`${short.url}/dashboard`, { cookie })).status).toBe(401);
    expect((await getJson(`${short.url}/dashboard`, { cookie })).status).toBe(401);
  });
});

describe('upstream failure classification', () => {
  test('a network failure raised in another realm (as under jest) still counts as unreachable', () => {
    // openid-client wraps a fetch TypeError it does not recognise (another realm's) in a ClientError.
    const foreign = runInNewContext('new TypeError("fetch failed", { cause: new Error("other side closed") })') as Error;
    const wrapped = Object.assign(new Error('something went wrong', { cause: foreign }), { name: 'ClientError' });
    const e = translateUpstreamError(wrapped, 'refresh');
    expect({ code: e.code, message: e.message }).toEqual({ code: 'UPSTREAM_UNAVAILABLE', message: 'The identity provider is not reachable right now.' });
  });
});
