import { decodeJwt } from 'jose';
import type { Redis } from 'ioredis';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { startStack, type Stack } from '../fixtures/stack.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { startOp, ALICE, type TestOp } from '../fixtures/op.js';
import { testClock } from '../fixtures/clock.js';
import { getJson, refreshCount, sessionCookie, sessionKey, storedAuth, upstreamTokenDue } from './helpers.js';

// An upstream less friendly than the suite's default: refresh responses without an ID token (OIDC
// Core §12.2 makes it optional there; glewlwyd, among others, omits it), a userinfo endpoint that
// fails, and refresh refusals in every shape. Upstream access tokens live 5 minutes: the tests
// move the gateway clock past that instead of waiting (each login starts at wall time).
const ACCESS_TOKEN_TTL = 300;
const clock = testClock();
const dueSession = (cookie: string) => upstreamTokenDue(clock, ACCESS_TOKEN_TTL, direct, cookie);
let redis: RedisServer;
let op: TestOp;
let plain: Stack;
let withUserinfo: Stack;
let direct: Redis;
/** Test-local faults, applied by a Koa middleware in front of the OP's routes. */
const faults: { userinfo?: number; refresh?: 'text' | 'json' } = {};

const tokensRoute = (app: Stack['app']) => {
  app.get('/tokens', (req, res) => {
    if (!req.auth.isAuthenticated) {
      res.status(401).json({ code: 'UNAUTHORIZED' });
      return;
    }
    res.json({ idToken: req.auth.idToken, accessToken: req.auth.accessToken, claims: req.auth.claims });
  });
};

beforeAll(async () => {
  redis = await startRedis();
  op = await startOp({
    ttl: { AccessToken: ACCESS_TOKEN_TTL },
    issueRefreshToken: true,
    rotateRefreshToken: true,
    refreshIdToken: false,
    setup: ({ provider }) => {
      provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
        if (faults.userinfo && ctx.path === '/me') {
          ctx.status = faults.userinfo;
          ctx.body = 'userinfo is down';
          return;
        }
        if (faults.refresh && ctx.method === 'POST' && ctx.path === '/token') {
          ctx.status = 400;
          if (faults.refresh === 'text') ctx.body = 'Bad Request';
          else ctx.body = { error: 'invalid_request', error_description: 'refresh token reuse detected' };
          return;
        }
        await next();
      });
    },
  });
  plain = await startStack({ redis, sharedOp: op, routes: tokensRoute, options: { now: clock.now } });
  withUserinfo = await startStack({
    redis,
    sharedOp: op,
    routes: tokensRoute,
    options: { now: clock.now },
    config: (c) => {
      (c.connectors as Array<Record<string, unknown>>)[0]!.userinfo = true;
    },
  });
  direct = redis.client();
});
afterAll(async () => {
  direct?.disconnect();
  await withUserinfo?.close();
  await plain?.close();
  await op?.close();
  await redis?.stop();
});
beforeEach(() => {
  clock.reset();
  op.reset();
  op.accounts.alice = structuredClone(ALICE);
  delete faults.userinfo;
  delete faults.refresh;
});

async function signIn(stack: Stack): Promise<string> {
  const browser = await stack.login();
  op.tokenRequests.length = 0;
  return sessionCookie(browser, stack.url);
}

describe('a refresh response without an ID token', () => {
  test('keeps the identity and the claims, stores the rotated refresh token, and a second cycle works', async () => {
    const cookie = await signIn(plain);
    const before = await getJson(`${plain.url}/tokens`, { cookie });
    const stored = await dueSession(cookie);
    const after = await getJson(`${plain.url}/tokens`, { cookie });
    expect(after.status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(1);
    expect(after.body.claims).toEqual(before.body.claims);
    expect(after.body.claims).toMatchObject({ sub: 'corp|alice', name: 'Alice Example', roles: ['analyst'] });
    const refreshed = await storedAuth(direct, cookie);
    expect(refreshed?.sub).toBe('corp|alice');
    expect(refreshed?.rev).toBe(stored.rev + 1);
    expect(refreshed?.upstream.refreshToken).not.toBe(stored.upstream.refreshToken);
    // The ID token of the login stays the upstream ID token (id_token_hint at logout).
    expect(refreshed?.upstream.idToken).toBe(stored.upstream.idToken);
    expect(decodeJwt(String(after.body.idToken))).toMatchObject({ sub: 'corp|alice', name: 'Alice Example' });

    await dueSession(cookie);
    expect((await getJson(`${plain.url}/dashboard`, { cookie })).status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(2);
    expect((await storedAuth(direct, cookie))?.rev).toBe(stored.rev + 2);
  });

  test('with userinfo on: userinfo claims overlay the kept ones', async () => {
    const cookie = await signIn(withUserinfo);
    await dueSession(cookie);
    op.accounts.alice = { ...structuredClone(ALICE), name: 'Alice Renamed' };
    const after = await getJson(`${withUserinfo.url}/tokens`, { cookie });
    expect(after.status).toBe(200);
    expect(after.body.claims).toMatchObject({ sub: 'corp|alice', name: 'Alice Renamed', email: 'alice@example.com' });
    expect(refreshCount(op.tokenRequests)).toBe(1);
    await dueSession(cookie);
    expect((await getJson(`${withUserinfo.url}/dashboard`, { cookie })).status).toBe(200);
  });

  test('with userinfo on: a userinfo for another subject ends the session (401, then signed out)', async () => {
    const cookie = await signIn(withUserinfo);
    await dueSession(cookie);
    op.tamperUserinfo = (body) => ({ ...body, sub: 'mallory' });
    const res = await getJson(`${withUserinfo.url}/dashboard`, { cookie });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
  });

  test('a userinfo failure after the token response keeps the rotated refresh token: 503 once, then it works', async () => {
    const cookie = await signIn(withUserinfo);
    const stored = await dueSession(cookie);
    faults.userinfo = 500;
    const failed = await getJson(`${withUserinfo.url}/dashboard`, { cookie });
    expect(failed.status).toBe(503);
    const kept = await storedAuth(direct, cookie);
    expect(kept?.upstream.refreshToken).toBeDefined();
    expect(kept?.upstream.refreshToken).not.toBe(stored.upstream.refreshToken);
    delete faults.userinfo;
    // The old refresh token is spent (rotation): only the stored new one can succeed.
    expect((await getJson(`${withUserinfo.url}/dashboard`, { cookie })).status).toBe(200);
    expect(refreshCount(op.tokenRequests)).toBe(2);
  });
});

describe('an upstream refusing the refresh token', () => {
  test.each([
    ['a 400 without a JSON body', 'text' as const],
    ['a 400 with a JSON error other than invalid_grant', 'json' as const],
  ])('with %s ends the session cleanly: 401, and signed out afterwards (never an endless 503)', async (_name, shape) => {
    const cookie = await signIn(plain);
    await dueSession(cookie);
    faults.refresh = shape;
    const res = await getJson(`${plain.url}/dashboard`, { cookie });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
    expect(await direct.exists(sessionKey(cookie))).toBe(0);
    const again = await getJson(`${plain.url}/dashboard`, { cookie });
    expect(again.status).toBe(401);
    expect(
      plain.logger.lines.some(
        (l) => (l.obj as { event?: string; code?: string }).event === 'refresh.failed' && (l.obj as { code?: string }).code === 'REFRESH_REJECTED',
      ),
    ).toBe(true);
  });
});

describe('upstream auth_time', () => {
  test('a non-positive auth_time is treated as absent (local tokens carry the login time)', async () => {
    op.tamperIdToken = (payload, header) => ({ payload: { ...payload, auth_time: 0 }, header });
    const started = Math.floor(clock.now() / 1000);
    const cookie = await signIn(plain);
    const tokens = await getJson(`${plain.url}/tokens`, { cookie });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(String(tokens.body.idToken)).auth_time).toBeGreaterThanOrEqual(started - 1);
    expect(decodeJwt(String(tokens.body.accessToken)).auth_time).toBeGreaterThanOrEqual(started - 1);
    expect((await storedAuth(direct, cookie))?.authTime).toBeGreaterThanOrEqual(started - 1);
  });
});
