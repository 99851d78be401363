/**
 * Interop with a real, independently written OpenID Provider: glewlwyd (Debian package), driven
 * through its own HTML login form in real Chromium, with a real Redis. glewlwyd's quirks met here:
 * no ID token in refresh responses, back-channel logout tokens typed `JWT`, and no redirect back
 * after logout unless `state` is sent.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import type { Redis } from 'ioredis';
import { decodeJwt, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromiumProfile } from '../fixtures/chromium.js';
import { fedgate, requireAuth, type Gateway } from '../../index.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { closeServer, waitFor } from '../fixtures/ports.js';
import { testClock } from '../fixtures/clock.js';
import { recordSecret } from '../fixtures/secret-scan.js';
import { SESSION_SECRET, recordingLogger, testKeys } from '../fixtures/stack.js';
import { getJson, sessionKey, storedAuth } from '../lifecycle/helpers.js';
import type { SessionAuth } from '../../lib/session/state.js';
import { startGlewlwyd, type Glewlwyd, type GlewlwydUser } from './glewlwyd.js';

/** The first JSON block under "## glewlwyd" in docs/interop.md: the connector config the docs recommend. */
function docsExample(): Record<string, unknown> {
  const doc = readFileSync(new URL('../../docs/interop.md', import.meta.url), 'utf8');
  const block = /```json\n([\s\S]*?)\n```/.exec(doc.slice(doc.indexOf('\n## glewlwyd\n')));
  if (!block?.[1]) throw new Error('no JSON example under "## glewlwyd" in docs/interop.md');
  return JSON.parse(block[1]) as Record<string, unknown>;
}
const connectorId = 'glewlwyd';

const artifacts = path.resolve(process.cwd(), 'test-artifacts');
const clientId = 'fedgate';
const clientSecret = 'fedgate-interop-secret-0123456789';
/**
 * Upstream access tokens live 5 minutes: the tests move the gateway's clock past that instead of
 * waiting. glewlwyd keeps its own (wall) clock, so each sign-in starts again at wall time.
 */
const accessTokenTtl = 300;
const clock = testClock();
const alice: GlewlwydUser = { username: 'alice', password: 'alice-password-0123', name: 'Alice Glewlwyd', email: 'alice@example.com' };

let redis: RedisServer;
let gw: Glewlwyd;
let context: BrowserContext;
let userDataDir: string;
let server: Server;
let gateway: Gateway;
let appUrl: string;
let direct: Redis;
const logger = recordingLogger();
const logoutTokenHeaders: ProtectedHeaderParameters[] = [];

const testTimeout = 60_000;

beforeAll(async () => {
  recordSecret(SESSION_SECRET);
  recordSecret(clientSecret);
  recordSecret(alice.password);
  [redis, gw] = await Promise.all([startRedis(), startGlewlwyd({ accessTokenTtl })]);
  direct = redis.client();
  const app = express();
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const address = server.address();
  appUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await gw.addUser(alice);
  await gw.addClient({
    clientId,
    secret: clientSecret,
    redirectUri: `${appUrl}/auth/callback/${connectorId}`,
    postLogoutRedirectUri: `${appUrl}/`,
    backchannelLogoutUri: `${appUrl}/auth/backchannel-logout/${connectorId}`,
  });
  gateway = fedgate(
    {
      baseUrl: appUrl,
      allowInsecureRequests: true,
      httpTimeout: 5,
      session: { secret: SESSION_SECRET, redis: { url: redis.url, commandTimeout: 2000, connectTimeout: 2000 } },
      tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] } },
      // The connector exactly as docs/interop.md shows it, pointed at this glewlwyd.
      connectors: [{ ...docsExample(), issuer: gw.issuer, clientId, clientSecret }],
    },
    { logger, now: clock.now },
  );
  // Records the header of every logout token glewlwyd sends (an app's own body parser runs first, as apps often have one).
  app.use('/auth/backchannel-logout', express.urlencoded({ extended: false }), (req, _res, next) => {
    const token = (req.body as { logout_token?: unknown } | undefined)?.logout_token;
    if (typeof token === 'string') logoutTokenHeaders.push(decodeProtectedHeader(token));
    next();
  });
  app.use(gateway);
  app.get('/', (req, res) => {
    res.type('text/plain').send(req.auth.isAuthenticated ? 'signed in' : 'signed out');
  });
  app.get('/dashboard', requireAuth(), (req, res) => {
    res.json({ sub: req.auth.sub, claims: req.auth.claims, idToken: req.auth.idToken, accessToken: req.auth.accessToken });
  });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'fedgate-chromium-'));
  context = await launchChromiumProfile(userDataDir);
  context.setDefaultTimeout(15_000);
}, 60_000);

afterAll(async () => {
  await context?.close();
  direct?.disconnect();
  await gateway?.close();
  if (server) await closeServer(server);
  await gw?.stop();
  await redis?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** Runs a scenario; on failure saves a screenshot and glewlwyd's log tail into the message. */
async function scenario(name: string, run: (page: Page) => Promise<void>): Promise<void> {
  await context.clearCookies();
  const page = await context.newPage();
  try {
    await run(page);
  } catch (err) {
    await mkdir(artifacts, { recursive: true });
    const file = path.join(artifacts, `glewlwyd-${name}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    const log = (await gw.log()).split('\n').slice(-15).join('\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n(screenshot: ${file}, page: ${page.url()})\nglewlwyd:\n${log}`, { cause: err });
  } finally {
    for (const c of await context.cookies()) recordSecret(c.value);
    await page.close();
  }
}

/** Signs in through glewlwyd's own login page (username and password, then "Continue" to the client). */
async function signIn(page: Page): Promise<Record<string, unknown>> {
  clock.reset();
  await page.goto(`${appUrl}/dashboard`);
  await page.waitForURL((u) => u.href.startsWith(`${gw.url}/login.html`));
  await page.fill('#username', alice.username);
  await page.fill('#password', alice.password);
  await page.click('#loginbut');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${appUrl}/dashboard`);
  return JSON.parse(await page.locator('body').innerText()) as Record<string, unknown>;
}

async function sessionCookieOf(): Promise<string> {
  const cookie = (await context.cookies(appUrl)).find((c) => c.name === 'fedgate.sid');
  if (!cookie) throw new Error('no fedgate session cookie');
  return `fedgate.sid=${cookie.value}`;
}

async function stored(cookie: string): Promise<SessionAuth> {
  const auth = await storedAuth(direct, cookie);
  if (!auth) throw new Error('session not found in Redis');
  // glewlwyd's tokens join the suite-wide scan: none may appear in any log.
  for (const t of [auth.upstream.refreshToken, auth.upstream.accessToken, auth.upstream.idToken]) if (t) recordSecret(t);
  return auth;
}

/** Moves the gateway clock past the upstream access token's lifetime: the next request must refresh it. */
async function untilRefreshDue(cookie: string): Promise<SessionAuth> {
  clock.advance(accessTokenTtl * 1000);
  return stored(cookie);
}

test(
  "login through glewlwyd's HTML form: userinfo merged, local tokens minted from the mapped claims",
  async () => {
    await scenario('login', async (page) => {
      const body = await signIn(page);
      expect(body.sub).toMatch(/^glewlwyd\|.+/);
      expect(body.claims).toMatchObject({ sub: body.sub, name: alice.name, email: alice.email });
      const idToken = decodeJwt(String(body.idToken));
      expect(decodeProtectedHeader(String(body.idToken)).alg).toBe('ES256');
      expect(idToken).toMatchObject({ sub: body.sub, name: alice.name, email: alice.email, iss: `${appUrl}/auth` });
      expect(decodeJwt(String(body.accessToken))).toMatchObject({ sub: body.sub });
      // glewlwyd sends auth_time 0: local tokens carry the login time instead.
      expect(idToken.auth_time).toBeGreaterThan(Math.floor(Date.now() / 1000) - 120);
      const auth = await stored(await sessionCookieOf());
      // The upstream identity as glewlwyd sent it: its ID token (with a sid, for back-channel logout) and a refresh token.
      expect(decodeJwt(auth.upstream.idToken!)).toMatchObject({ iss: gw.issuer, aud: clientId });
      expect(auth.upstream.sid).toEqual(expect.any(String));
      expect(auth.upstream.refreshToken).toEqual(expect.any(String));
    });
  },
  testTimeout,
);

test(
  'refresh with short access tokens (no ID token from glewlwyd): identity kept, userinfo overlaid, rotation over two cycles',
  async () => {
    await scenario('refresh', async (page) => {
      const first = await signIn(page);
      const cookie = await sessionCookieOf();
      const before = await untilRefreshDue(cookie);
      // A change at the provider reaches the session through userinfo at the next refresh.
      const renamed = await gw.admin('PUT', `/user/${alice.username}`, { name: 'Alice Renamed', email: alice.email, scope: ['openid'], enabled: true });
      expect(renamed.status).toBe(200);
      const one = await getJson(`${appUrl}/dashboard`, { cookie });
      expect(one.status).toBe(200);
      expect(one.body.sub).toBe(first.sub);
      expect(one.body.claims).toMatchObject({ sub: first.sub, name: 'Alice Renamed', email: alice.email });
      const afterOne = await stored(cookie);
      expect(afterOne.rev).toBe(before.rev + 1);
      expect(afterOne.upstream.refreshToken).not.toBe(before.upstream.refreshToken);
      // glewlwyd sent no new ID token: the login's one stays (id_token_hint at logout).
      expect(afterOne.upstream.idToken).toBe(before.upstream.idToken);
      expect(afterOne.upstream.accessToken).not.toBe(before.upstream.accessToken);

      // Second cycle: the rotated refresh token works (the first one is spent).
      await untilRefreshDue(cookie);
      const two = await getJson(`${appUrl}/dashboard`, { cookie });
      expect(two.status).toBe(200);
      expect(two.body.sub).toBe(first.sub);
      const afterTwo = await stored(cookie);
      expect(afterTwo.rev).toBe(before.rev + 2);
      expect(afterTwo.upstream.refreshToken).not.toBe(afterOne.upstream.refreshToken);
      await gw.admin('PUT', `/user/${alice.username}`, { name: alice.name, email: alice.email, scope: ['openid'], enabled: true });
    });
  },
  testTimeout,
);

test(
  'refresh token reuse detected by glewlwyd ends the session cleanly: 401, then signed out (never an endless 503)',
  async () => {
    await scenario('reuse', async (page) => {
      await signIn(page);
      const cookie = await sessionCookieOf();
      const spent = (await untilRefreshDue(cookie)).upstream.refreshToken!;
      expect((await getJson(`${appUrl}/dashboard`, { cookie })).status).toBe(200);
      // Someone replays the spent refresh token: glewlwyd refuses it and disables the whole chain.
      const replay = await fetch(`${gw.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: spent, client_id: clientId, client_secret: clientSecret }),
        signal: AbortSignal.timeout(10_000),
      });
      expect(replay.status).toBeGreaterThanOrEqual(400);
      expect(replay.status).toBeLessThan(500);
      await untilRefreshDue(cookie);
      const ended = await getJson(`${appUrl}/dashboard`, { cookie });
      expect(ended.status).toBe(401);
      expect(ended.body).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
      expect(await direct.exists(sessionKey(cookie))).toBe(0);
      expect((await getJson(`${appUrl}/dashboard`, { cookie })).status).toBe(401);
    });
  },
  testTimeout,
);

test(
  "RP-initiated logout: the session ends, glewlwyd's session ends, and the browser comes back through state",
  async () => {
    await scenario('logout', async (page) => {
      await signIn(page);
      const cookie = await sessionCookieOf();
      const endSession = page.waitForRequest((r) => r.url().startsWith(`${gw.issuer}/end_session`));
      await page.goto(`${appUrl}/auth/logout?returnTo=${encodeURIComponent('/')}`);
      const state = new URL((await endSession).url()).searchParams.get('state');
      expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const back = page.waitForRequest((r) => r.url() === `${appUrl}/?state=${state}`);
      // glewlwyd asks the user to confirm ending its session.
      await page
        .getByRole('button', { name: /log ?out|sign ?out|disconnect/i })
        .first()
        .click();
      await back;
      await page.waitForURL(`${appUrl}/`);
      expect(await page.locator('body').innerText()).toBe('signed out');
      expect(await direct.exists(sessionKey(cookie))).toBe(0);
      // glewlwyd's session is gone too: signing in again shows its login form.
      await page.goto(`${appUrl}/dashboard`);
      await page.waitForURL((u) => u.href.startsWith(`${gw.url}/login.html`));
      await page.locator('#username').waitFor({ state: 'visible' });
    });
  },
  testTimeout,
);

test(
  'back-channel logout: ending the session at glewlwyd ends the fedgate session (logout token typed JWT)',
  async () => {
    await scenario('backchannel', async (page) => {
      await signIn(page);
      const cookie = await sessionCookieOf();
      const sid = (await stored(cookie)).upstream.sid!;
      expect((await getJson(`${appUrl}/dashboard`, { cookie })).status).toBe(200);
      // What glewlwyd's own logout page does once the user confirms: DELETE the OIDC session.
      await page.goto(`${gw.url}/login.html`);
      const status = await page.evaluate(async (url) => (await fetch(url, { method: 'DELETE', credentials: 'include' })).status, `${gw.issuer}/session/${sid}`);
      expect(status).toBe(200);
      await waitFor('the back-channel logout to end the session', async () => (await getJson(`${appUrl}/dashboard`, { cookie })).status === 401, {
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      const received = logger.lines.find((l) => (l.obj as { event?: string }).event === 'backchannel.logout');
      expect(received).toBeDefined();
      // glewlwyd types its logout tokens JWT, not logout+jwt.
      expect(logoutTokenHeaders.at(-1)).toMatchObject({ typ: 'JWT', alg: 'RS256' });
    });
  },
  testTimeout,
);
