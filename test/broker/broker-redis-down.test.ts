import realProcess from 'node:process';
import * as oidc from 'openid-client';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { waitFor } from '../fixtures/ports.js';
import type { Browser, BrowserResponse } from '../fixtures/browser.js';
import {
  CONFIDENTIAL_SECRET,
  authorize,
  decide,
  discover,
  exchange,
  signIn,
  startBrokerStack,
  type AuthorizationAttempt,
  type BrokerClientSpec,
  type BrokerStack,
} from './helpers.js';

// Broker mode with its Redis gone: every endpoint of the provider (oidc-provider's storage adapter
// included) and fedgate's interaction pages answer 503 + Retry-After within the command timeout,
// never 500, never a code or a token; with Redis back, the same tokens, codes and consent steps
// work again without a restart. Token-endpoint bodies are RFC 6749 §5.2-shaped with the
// `temporarily_unavailable` value of §4.1.2.1 (RFC 7009 §2.2.1 names 503 for revocation too).
// AOF with fsync on every write: what was stored before the SIGKILL is there after the restart.

const trusted: BrokerClientSpec = { client_id: 'first-party', client_secret: CONFIDENTIAL_SECRET, trusted: true };
const untrusted: BrokerClientSpec = { client_id: 'third-party', client_secret: CONFIDENTIAL_SECRET };
/** The stack's Redis command timeout (test/fixtures/stack.ts) plus room for a slow machine. */
const withinMs = 3000;

const failures: unknown[] = [];
const onFailure = (reason: unknown): void => {
  failures.push(reason);
};

let redis: RedisServer;
let stack: BrokerStack;
let trustedConfig: oidc.Configuration;
let untrustedConfig: oidc.Configuration;
beforeAll(async () => {
  realProcess.on('unhandledRejection', onFailure);
  realProcess.on('uncaughtException', onFailure);
  redis = await startRedis({ appendonly: true, args: ['--appendfsync', 'always'] });
  stack = await startBrokerStack([trusted, untrusted], { redis });
  trustedConfig = await discover(stack, trusted);
  untrustedConfig = await discover(stack, untrusted);
});
afterAll(async () => {
  realProcess.off('unhandledRejection', onFailure);
  realProcess.off('uncaughtException', onFailure);
  if (redis?.running) redis.resume();
  await stack?.close();
  await redis?.stop();
});
beforeEach(async () => {
  // A failed test may have left Redis down: each test starts with it up, and the gateway on it.
  if (redis.running) redis.resume();
  else await redis.restart();
  await waitFor('the gateway to reach Redis', async () => (await stack.gateway.health()).redis === 'ready', { timeoutMs: 10_000, intervalMs: 100 });
});
afterEach(() => {
  expect(failures).toEqual([]);
});

type Timed = BrowserResponse & { ms: number };

async function timed(fn: () => Promise<BrowserResponse>): Promise<Timed> {
  const started = Date.now();
  const res = await fn();
  return Object.assign(res, { ms: Date.now() - started });
}

function expectUnavailable(res: Timed): void {
  expect({ status: res.status, body: res.status === 503 ? '' : res.body.slice(0, 300) }).toEqual({ status: 503, body: '' });
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(res.headers.get('cache-control')).toContain('no-store');
  expect(res.headers.get('location')).toBeNull();
  expect(res.ms).toBeLessThan(withinMs);
  expect(res.body).not.toMatch(/access_token|id_token|refresh_token|server_error/);
}

/** The JSON answer of the token and revocation endpoints: RFC 6749 §5.2, in fedgate's one error shape too. */
function expectUnavailableJson(res: Timed): void {
  expectUnavailable(res);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const message = 'The session store is unavailable; please try again shortly.';
  expect(res.json()).toEqual({ error: 'temporarily_unavailable', error_description: message, code: 'SESSION_STORE_UNAVAILABLE', message });
}

/** fedgate's error page, for browser navigations. */
function expectUnavailablePage(res: Timed): void {
  expectUnavailable(res);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.body).toContain('Error code: <code>SESSION_STORE_UNAVAILABLE</code>');
}

const basic = (c: BrokerClientSpec) => `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`;

function postForm(path: string, client: BrokerClientSpec, form: Record<string, string>): Promise<Timed> {
  return timed(() => stack.browser().post(`${stack.url}/auth${path}`, form, { headers: { authorization: basic(client), accept: 'application/json' } }));
}

const codeGrant = (attempt: AuthorizationAttempt) =>
  postForm('/token', trusted, {
    grant_type: 'authorization_code',
    code: new URL(attempt.result.stoppedAt!).searchParams.get('code')!,
    redirect_uri: stack.rp.callback,
    code_verifier: attempt.verifier,
  });
const refreshGrant = (refreshToken: string) => postForm('/token', trusted, { grant_type: 'refresh_token', refresh_token: refreshToken });

/** An authorization request of the trusted client (a throwaway PKCE challenge: never redeemed). */
const authorizeUrl = () =>
  oidc.buildAuthorizationUrl(trustedConfig, {
    redirect_uri: stack.rp.callback,
    scope: 'openid',
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256',
    state: 'down',
  }).href;

/** A browser stopped at fedgate's interaction step of a fresh authorization (no session yet). */
async function pendingInteraction(browser: Browser): Promise<string> {
  const res = await browser.follow(authorizeUrl(), { stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/interaction/') });
  expect(res.stoppedAt).toBeDefined();
  return res.stoppedAt!;
}

async function recovered<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  return waitFor(what, check, { timeoutMs: 15_000, intervalMs: 100 });
}

describe('broker mode with Redis down', () => {
  test('Redis stopped: every provider endpoint answers 503 + Retry-After, no 500, no access; all of it works again once Redis is back', async () => {
    const browser = stack.browser();
    const tokens = await signIn(stack, trustedConfig, browser);
    // A code issued but not yet redeemed, a consent page shown but not yet answered, an
    // interaction started but not yet shown: each is to survive the outage.
    const pendingCode = await authorize(stack, trustedConfig, browser);
    expect(pendingCode.result.stoppedAt).toContain('code=');
    const consentBrowser = stack.browser();
    const consent = await authorize(stack, untrustedConfig, consentBrowser, { scope: 'openid profile' });
    expect(consent.result.status).toBe(200);
    const newcomer = stack.browser();
    const interaction = await pendingInteraction(newcomer);
    const leaving = stack.browser();
    const leavingTokens = await signIn(stack, trustedConfig, leaving);
    const confirm = await leaving.get(
      oidc.buildEndSessionUrl(trustedConfig, { id_token_hint: leavingTokens.id_token!, post_logout_redirect_uri: `${stack.rp.url}/bye` }).href,
    );
    expect(confirm.status).toBe(200);
    const logsBefore = stack.logger.lines.length;

    await redis.kill();

    expectUnavailableJson(await codeGrant(pendingCode));
    expectUnavailableJson(await refreshGrant(tokens.refresh_token!));
    expectUnavailableJson(await postForm('/revoke', trusted, { token: tokens.refresh_token!, token_type_hint: 'refresh_token' }));
    // fedgate's own userinfo route (lib/broker/userinfo.ts) says so in its own words.
    const userinfo = await timed(() =>
      stack.browser().get(`${stack.url}/auth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' } }),
    );
    expectUnavailable(userinfo);
    expect(userinfo.json()).toMatchObject({ error: 'temporarily_unavailable', code: 'SESSION_STORE_UNAVAILABLE' });
    // A browser navigation to the authorization endpoint gets fedgate's page (with and without a session).
    expectUnavailablePage(await timed(() => browser.get(authorizeUrl())));
    expectUnavailablePage(await timed(() => stack.browser().get(authorizeUrl())));
    expectUnavailablePage(
      await timed(() =>
        browser.get(oidc.buildEndSessionUrl(trustedConfig, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${stack.rp.url}/bye` }).href),
      ),
    );
    expectUnavailablePage(await timed(() => newcomer.get(interaction)));
    // undici's fetch sends `Sec-Fetch-Mode: cors` with this POST, so it gets fedgate's JSON answer
    // (a browser's form POST says `navigate` and gets the page, lib/http/respond.ts sendError).
    const consentPost = await timed(() => consentBrowser.submitForm(consent.result, { decision: 'approve' }, { stopAt: () => true }));
    expectUnavailable(consentPost);
    expect(consentPost.json()).toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE' });
    const confirmed = await timed(() => leaving.submitForm(confirm, { logout: 'yes' }, { stopAt: () => true }));
    // (JSON here: undici's fetch sends `Sec-Fetch-Mode: cors`; a browser's form POST gets the page.)
    expectUnavailableJson(confirmed);
    // Logged as the store failure it is, never as a provider failure.
    const outage = stack.logger.lines.slice(logsBefore).map((l) => (l.obj as { event?: string }).event);
    expect(outage).toContain('broker.unavailable');
    expect(outage).not.toContain('broker.server_error');
    expect(outage).not.toContain('broker.error');
    // What needs no store still answers.
    expect((await fetch(`${stack.url}/auth/.well-known/openid-configuration`)).status).toBe(200);
    expect((await fetch(`${stack.url}/auth/jwks.json`)).status).toBe(200);

    await redis.restart();
    const refreshed = await recovered('the refresh grant to work again', async () => {
      const res = await refreshGrant(tokens.refresh_token!);
      expect(res.status).not.toBe(500);
      return res.status === 200 ? res.json<{ access_token: string; refresh_token: string }>() : undefined;
    });
    expect(refreshed.refresh_token).toBeDefined();
    // The code, the consent step and the interaction refused during the outage were not used up.
    const redeemed = await exchange(trustedConfig, pendingCode);
    expect(redeemed.claims()).toMatchObject({ sub: 'corp|alice', aud: 'first-party' });
    const approved = await decide(stack, consentBrowser, consent, 'approve');
    expect((await exchange(untrustedConfig, approved)).claims()).toMatchObject({ aud: 'third-party' });
    const shown = await newcomer.follow(interaction, { maxRedirects: 20, stopAt: (u) => u.origin === stack.rp.url });
    expect(shown.stoppedAt).toContain('code=');
    const claims = await fetch(`${stack.url}/auth/userinfo`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
    expect(claims.status).toBe(200);
    expect(await signIn(stack, trustedConfig, stack.browser())).toHaveProperty('access_token');
    // And the sign-out refused during the outage goes through.
    const out = await leaving.submitForm(confirm, { logout: 'yes' }, { stopAt: (u) => u.origin === stack.rp.url });
    expect(out.stoppedAt).toBe(`${stack.rp.url}/bye`);
  }, 60_000);

  test('Redis paused (SIGSTOP): 503 within the command timeout, never a hang; resumed: the refresh grant works', async () => {
    const tokens = await signIn(stack, trustedConfig, stack.browser());
    redis.pause();
    try {
      expectUnavailableJson(await refreshGrant(tokens.refresh_token!));
      const pages = await Promise.all([stack.browser(), stack.browser()].map((b) => timed(() => b.get(authorizeUrl()))));
      for (const res of pages) expectUnavailablePage(res);
    } finally {
      redis.resume();
    }
    const back = await recovered('the refresh grant after resume', async () => {
      const res = await refreshGrant(tokens.refresh_token!);
      expect(res.status).not.toBe(500);
      return res.status === 200 ? res : undefined;
    });
    expect(back.json()).toHaveProperty('access_token');
  }, 60_000);
});
