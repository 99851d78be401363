import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { startStack, type Stack } from '../fixtures/stack.js';
import { createBrowser, type Browser } from '../fixtures/browser.js';
import { DEFAULT_CLIENT_ID, generateRsaKey, getSharedKey, signJwt } from '../fixtures/op.js';
import { getJson, sessionCookie, sessionKey, storedAuth } from './helpers.js';

// The OP's own back-channel logout (oidc-provider `backchannelLogout`): ending the user's session
// at the OP makes it POST a signed logout_token with that session's `sid` to the gateway.
let stack: Stack;
let direct: Redis;
const delivered: Array<{ ok: boolean; error?: string }> = [];
/** Logout tokens the OP sent, recorded from its outgoing fetch. */
const sentTokens: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    op: {
      backchannelLogout: true,
      configure: (config) => {
        const send = config.fetch!;
        config.fetch = (input, init) => {
          const token = init?.body instanceof URLSearchParams ? init.body.get('logout_token') : null;
          if (token) sentTokens.push(token);
          return send(input, init);
        };
      },
    },
    // Sign-out through the gateway continues at the OP (which then sends its back-channel token too).
    config: (c) => {
      (c.connectors as Array<Record<string, unknown>>)[0]!.logout = 'upstream';
    },
  });
  await stack.op.updateClient(DEFAULT_CLIENT_ID, {
    backchannel_logout_uri: `${stack.url}/auth/backchannel-logout/corp`,
    backchannel_logout_session_required: true,
  });
  stack.op.provider.on('backchannel.success', () => delivered.push({ ok: true }));
  stack.op.provider.on('backchannel.error', (_ctx: unknown, err: Error) => delivered.push({ ok: false, error: err.message }));
  direct = stack.redis.client();
});
afterAll(async () => {
  direct?.disconnect();
  await stack?.close();
});
beforeEach(() => {
  delivered.length = 0;
});

const event = { 'http://schemas.openid.net/event/backchannel-logout': {} };
const post = (token: string) =>
  fetch(`${stack.url}/auth/backchannel-logout/corp`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  });

/** A fresh browser (own OP session, so its own upstream `sid`), signed in. */
async function signedIn(): Promise<{ browser: Browser; cookie: string; sid: string }> {
  const browser = await stack.login(createBrowser());
  const cookie = sessionCookie(browser, stack.url);
  const sid = (await storedAuth(direct, cookie))?.upstream.sid;
  if (!sid) throw new Error('the ID token carried no sid');
  return { browser, cookie, sid };
}

/** RP-independent logout at the OP: its end_session page, then the confirmation form. */
async function logoutAtOp(browser: Browser): Promise<void> {
  const page = await browser.follow(`${stack.op.issuer}/session/end?client_id=${DEFAULT_CLIENT_ID}`);
  expect(page.status).toBe(200);
  const done = await browser.submitForm(page, { logout: 'yes' });
  expect(done.status).toBe(200);
}

describe('back-channel logout from the real OP', () => {
  test('ending the OP session destroys the gateway session with that sid, and only that one', async () => {
    const one = await signedIn();
    const two = await signedIn();
    expect(one.sid).not.toBe(two.sid);
    expect(await direct.exists(`fedgate:idx:usid:corp:${one.sid}`)).toBe(1);
    expect((await getJson(`${stack.url}/dashboard`, { cookie: one.cookie })).status).toBe(200);

    await logoutAtOp(one.browser);
    expect(delivered).toEqual([{ ok: true }]);
    expect(await direct.exists(sessionKey(one.cookie))).toBe(0);
    expect(await direct.exists(`fedgate:idx:usid:corp:${one.sid}`)).toBe(0);
    const after = await getJson(`${stack.url}/dashboard`, { cookie: one.cookie });
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
    // Another OP session of the same user is not touched.
    expect((await getJson(`${stack.url}/dashboard`, { cookie: two.cookie })).status).toBe(200);
    expect(stack.logger.lines.some((l) => (l.obj as { event?: string }).event === 'backchannel.logout')).toBe(true);
  });

  test.each([
    ['typ JWT (as glewlwyd sends it)', 'JWT'],
    ['no typ at all', null],
  ])('a logout token with %s from the OP is accepted and ends that session', async (_name, typ) => {
    const one = await signedIn();
    sentTokens.length = 0;
    stack.op.logoutTokenTyp = typ;
    try {
      await logoutAtOp(one.browser);
    } finally {
      stack.op.logoutTokenTyp = undefined;
    }
    expect(delivered).toEqual([{ ok: true }]);
    expect(await direct.exists(sessionKey(one.cookie))).toBe(0);
    expect((await getJson(`${stack.url}/dashboard`, { cookie: one.cookie })).status).toBe(401);
  });

  test('a logout token typed at+jwt from the OP is refused and ends nothing', async () => {
    const one = await signedIn();
    stack.op.logoutTokenTyp = 'at+jwt';
    try {
      await logoutAtOp(one.browser);
    } finally {
      stack.op.logoutTokenTyp = undefined;
    }
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.ok).toBe(false);
    expect(await direct.exists(sessionKey(one.cookie))).toBe(1);
  });

  test("the OP's logout token replayed is refused (jti remembered, with a TTL)", async () => {
    const one = await signedIn();
    sentTokens.length = 0;
    await logoutAtOp(one.browser);
    expect(sentTokens).toHaveLength(1);
    const res = await post(sentTokens[0]!);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', code: 'LOGOUT_TOKEN_INVALID', message: 'The logout token is invalid.' });
    const jtiKeys = await direct.keys('fedgate:bcl:*');
    expect(jtiKeys.length).toBeGreaterThan(0);
    for (const k of jtiKeys) expect(await direct.ttl(k)).toBeGreaterThan(0);
  });

  test("signing out through the gateway: the OP's back-channel token for the ended session is acknowledged", async () => {
    const one = await signedIn();
    const out = await one.browser.follow(`${stack.url}/auth/logout`, { method: 'POST', body: {} });
    // The gateway ended its session first, then sent the browser to the OP's end_session confirmation.
    expect(await direct.exists(sessionKey(one.cookie))).toBe(0);
    expect(out.url.startsWith(stack.op.issuer)).toBe(true);
    const done = await one.browser.submitForm(out, { logout: 'yes' });
    expect(done.url).toBe(`${stack.url}/`);
    expect(delivered).toEqual([{ ok: true }]);
  });

  test('upstream logout carries a random state; coming back with it continues to returnTo, once', async () => {
    const one = await signedIn();
    const out = await one.browser.follow(`${stack.url}/auth/logout`, { method: 'POST', body: { returnTo: '/dashboard?after=logout' } });
    const endSession = new URL(out.chain.find((u) => u.startsWith(`${stack.op.issuer}/session/end`))!);
    const state = endSession.searchParams.get('state');
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const done = await one.browser.submitForm(out, { logout: 'yes' });
    // Back at the post-logout URI with the state, then on to returnTo (which signs in again here).
    expect(done.chain).toContain(`${stack.url}/?state=${state}`);
    expect(done.chain).toContain(`${stack.url}/dashboard?after=logout`);
    // Single use: the same state again is left to the app (no redirect); so is an unknown one.
    for (const s of [state!, 'x'.repeat(43)]) {
      const again = await fetch(`${stack.url}/?state=${s}`, { redirect: 'manual' });
      expect(again.status).toBe(200);
      expect(await again.text()).toBe('hello');
    }
    // A second logout gets another state.
    const two = await signedIn();
    const out2 = await two.browser.follow(`${stack.url}/auth/logout`, { method: 'POST', body: {} });
    const state2 = new URL(out2.chain.find((u) => u.startsWith(`${stack.op.issuer}/session/end`))!).searchParams.get('state');
    expect(state2).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(state2).not.toBe(state);
  });

  test.each([
    ["signed by another key under the OP's kid", () => ({ key: generateRsaKey(getSharedKey().kid).privateKey, kid: getSharedKey().kid })],
    [
      'signed by a key the OP does not publish',
      () => {
        const k = generateRsaKey();
        return { key: k.privateKey, kid: k.kid };
      },
    ],
  ])('a forged logout token (%s) is refused with 400 and ends nothing', async (_name, keyOf) => {
    const victim = await signedIn();
    const { key, kid } = keyOf();
    const now = Math.floor(Date.now() / 1000);
    const forged = await signJwt(
      { iss: stack.op.issuer, aud: DEFAULT_CLIENT_ID, iat: now, exp: now + 120, jti: randomUUID(), events: event, sid: victim.sid, sub: 'alice' },
      { alg: 'RS256', kid, typ: 'logout+jwt' },
      key,
    );
    const res = await post(forged);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', code: 'LOGOUT_TOKEN_INVALID', message: 'The logout token is invalid.' });
    expect((await getJson(`${stack.url}/dashboard`, { cookie: victim.cookie })).status).toBe(200);
    expect(await direct.exists(sessionKey(victim.cookie))).toBe(1);
  });
});
