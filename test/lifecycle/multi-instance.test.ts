import { randomUUID } from 'node:crypto';
import { startStack, SESSION_SECRET, testKeys, type Stack } from '../fixtures/stack.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { startOp, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, signWithSharedKey, type TestOp } from '../fixtures/op.js';
import { waitFor } from '../fixtures/ports.js';
import type { ConfigInput } from '../../index.js';
import { testClock } from '../fixtures/clock.js';
import { getJson, refreshCount, sessionCookie, sessionKey } from './helpers.js';
import { startInstance, type Instance } from './instance.js';
import type { Redis } from 'ioredis';

// Two fedgate instances behind one public origin: `a` in this process (test stack), `b` in a
// separate Node process. They share Redis, the config, the signing keys and the session secret,
// and a clock the test moves (upstream access tokens live 5 minutes; each login at wall time).
const ACCESS_TOKEN_TTL = 300;
const clock = testClock();
let redis: RedisServer;
let op: TestOp;
let a: Stack;
let b: Instance;
let direct: Redis;

beforeAll(async () => {
  redis = await startRedis();
  op = await startOp({ ttl: { AccessToken: ACCESS_TOKEN_TTL }, issueRefreshToken: true, rotateRefreshToken: true });
  a = await startStack({
    redis,
    sharedOp: op,
    options: { now: clock.now },
    config: (c) => {
      (c.tokens as Record<string, unknown>).sessionBound = true;
    },
    routes: (app) => {
      app.get('/tokens', (req, res) => {
        res.json({ accessToken: req.auth.accessToken, idToken: req.auth.idToken });
      });
    },
  });
  const config: ConfigInput = {
    baseUrl: a.url,
    allowInsecureRequests: true,
    httpTimeout: 3,
    session: { secret: SESSION_SECRET, redis: { url: redis.url, commandTimeout: 1000, connectTimeout: 1000 } },
    tokens: {
      keys: (await testKeys()) as { keys: Record<string, unknown>[] },
      scopes: { 'reports:read': { claim: 'roles', includes: 'analyst' } },
      sessionBound: true,
    },
    connectors: [
      {
        id: 'corp',
        type: 'oidc',
        name: 'Corporate SSO',
        issuer: op.issuer,
        clientId: DEFAULT_CLIENT_ID,
        clientSecret: DEFAULT_CLIENT_SECRET,
        scopes: ['openid', 'profile', 'email', 'roles'],
      },
    ],
  } as ConfigInput;
  b = await startInstance(config);
  direct = redis.client();
}, 60_000);
afterAll(async () => {
  direct?.disconnect();
  await b?.stop();
  await a?.close();
  await op?.close();
  await redis?.stop();
});
beforeEach(async () => {
  clock.reset();
  await b.setClockOffset(0);
  op.reset();
});

/** Moves both instances' clocks past the upstream access token's lifetime: the next request must refresh. */
async function upstreamTokenDue(): Promise<void> {
  clock.advance(ACCESS_TOKEN_TTL * 1000);
  await b.setClockOffset(clock.offsetMs);
}

async function signIn(): Promise<string> {
  return sessionCookie(await a.login(), a.url);
}
const tokensOf = async (origin: string, cookie: string) => (await getJson(`${origin}/tokens`, { cookie })).body as { accessToken: string; idToken: string };

describe('two instances, two processes', () => {
  test('a session made on one instance works on the other', async () => {
    const cookie = await signIn();
    const res = await getJson(`${b.url}/dashboard`, { cookie });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sub: 'corp|alice', via: 'session', claims: { name: 'Alice Example' } });
    expect(res.body.pid).not.toBe(process.pid);
    expect(await b.health()).toMatchObject({ ok: true, redis: 'ready' });
  });

  test('bearer tokens minted by either instance are accepted by the other', async () => {
    const cookie = await signIn();
    const fromA = await tokensOf(a.url, cookie);
    const onB = await getJson(`${b.url}/dashboard`, { bearer: fromA.accessToken });
    expect(onB.status).toBe(200);
    expect(onB.body).toMatchObject({ sub: 'corp|alice', via: 'bearer' });
    const fromB = await tokensOf(b.url, cookie);
    const onA = await getJson(`${a.url}/dashboard`, { bearer: fromB.accessToken });
    expect(onA.status).toBe(200);
    expect(onA.body).toMatchObject({ sub: 'corp|alice', via: 'bearer' });
  });

  test('logging out on the other instance ends the session (and its session-bound tokens) on the first', async () => {
    const cookie = await signIn();
    const { accessToken } = await tokensOf(a.url, cookie);
    expect((await getJson(`${a.url}/dashboard`, { cookie })).status).toBe(200); // cached on a now
    const logout = await fetch(`${b.url}/auth/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(logout.status).toBe(302);
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
    const loggedOutAt = Date.now();
    await waitFor('instance a to see the logout', async () => (await getJson(`${a.url}/dashboard`, { cookie })).status === 401, { timeoutMs: 1500 });
    expect(Date.now() - loggedOutAt).toBeLessThan(1100);
    for (const origin of [a.url, b.url]) {
      const res = await getJson(`${origin}/dashboard`, { bearer: accessToken });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token', code: 'TOKEN_INVALID', message: 'The access token is not valid.' });
    }
  });

  test('revokeSessions in the other process ends the session here', async () => {
    const cookie = await signIn();
    expect((await getJson(`${a.url}/dashboard`, { cookie })).status).toBe(200);
    expect(await b.revokeSessions('corp|alice')).toBeGreaterThanOrEqual(1);
    await waitFor('instance a to see the revocation', async () => (await getJson(`${a.url}/dashboard`, { cookie })).status === 401, { timeoutMs: 1500 });
  });

  test('a back-channel logout received by the other process ends the session here', async () => {
    const cookie = await signIn();
    expect((await getJson(`${a.url}/dashboard`, { cookie })).status).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    const token = await signWithSharedKey(
      {
        iss: op.issuer,
        aud: DEFAULT_CLIENT_ID,
        iat: now,
        exp: now + 60,
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
    await waitFor('instance a to see the back-channel logout', async () => (await getJson(`${a.url}/dashboard`, { cookie })).status === 401, {
      timeoutMs: 1500,
    });
  });

  test('a refresh raced from both processes happens once', async () => {
    const cookie = await signIn();
    op.tokenRequests.length = 0;
    await upstreamTokenDue();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => getJson(`${i % 2 ? b.url : a.url}/dashboard`, { cookie })));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(refreshCount(op.tokenRequests)).toBe(1);
    await upstreamTokenDue();
    expect((await getJson(`${b.url}/dashboard`, { cookie })).status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(2);
  });
});
