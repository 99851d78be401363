import { startStack, type Stack } from '../fixtures/stack.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../fixtures/op.js';
import type { Browser, BrowserResponse } from '../fixtures/browser.js';

// Two connectors against the same upstream, so a callback can be replayed on the other's path.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      const first = (c.connectors as Array<Record<string, unknown>>)[0]!;
      c.connectors = [first, { ...first, id: 'other', name: 'Other SSO', clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }];
    },
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => stack.op.reset());

const json = { headers: { accept: 'application/json' } };

/** Starts a login at `connector` and stops at the upstream's redirect back to the gateway. */
async function callbackUrl(browser: Browser, connector = 'corp'): Promise<URL> {
  const res = await browser.follow(`${stack.url}/auth/login/${connector}`, {
    stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
  });
  if (!res.stoppedAt) throw new Error(`login did not reach the callback: ${res.status} ${res.url}`);
  return new URL(res.stoppedAt);
}

function expectError(res: BrowserResponse, status: number, code: string, message: string | RegExp): void {
  expect({ status: res.status, body: res.json() }).toEqual({
    status,
    body: { error: code.toLowerCase(), code, message: typeof message === 'string' ? message : (expect.stringMatching(message) as unknown) },
  });
}

async function expectSignedOut(browser: Browser): Promise<void> {
  const res = await browser.get(`${stack.url}/dashboard`, json);
  expect(res.status).toBe(401);
  expect(browser.cookies.get(stack.url, 'fedgate.sid')).toBeUndefined();
}

describe('callback attacks', () => {
  test('the happy path completes, with no-store and no-referrer on the callback', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const res = await browser.get(url.href);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${stack.url}/`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  });

  test('a callback without state is 400 CALLBACK_PARAMS_INVALID', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.delete('state');
    const res = await browser.get(url.href, json);
    expectError(res, 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response is missing its state.');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    await expectSignedOut(browser);
  });

  test('a wrong state is 400 CALLBACK_STATE_INVALID and makes no token request', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.set('state', 'A'.repeat(43));
    const res = await browser.get(url.href, json);
    expectError(res, 400, 'CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.');
    expect(stack.op.tokenRequests).toHaveLength(0);
    await expectSignedOut(browser);
  });

  test('a replayed callback URL is refused the second time', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    expect((await browser.get(url.href)).status).toBe(302);
    const tokenRequests = stack.op.tokenRequests.length;
    const replay = await browser.get(url.href, json);
    expectError(replay, 400, 'CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.');
    expect(stack.op.tokenRequests).toHaveLength(tokenRequests);
    // The first login still stands; the replay did not end or replace it.
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  });

  test('a state used from another browser (no binding cookie, or its own) is refused', async () => {
    const victim = stack.browser();
    const url = await callbackUrl(victim);
    const attacker = stack.browser();
    // The attacker has its own pending login, hence its own binding cookie.
    await callbackUrl(attacker);
    expect(attacker.cookies.get(`${stack.url}/auth/callback/corp`, 'fedgate.tx')).toBeDefined();
    const res = await attacker.get(url.href, json);
    expectError(res, 400, 'CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.');
    expect(stack.op.tokenRequests).toHaveLength(0);
    await expectSignedOut(attacker);

    const bare = stack.browser();
    const url2 = await callbackUrl(stack.browser());
    expectError(await bare.get(url2.href, json), 400, 'CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.');
    expect(stack.op.tokenRequests).toHaveLength(0);
  });

  test.each(['code', 'state', 'iss', 'error'])('a repeated %s parameter is 400, never 500', async (name) => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const original = url.href;
    const value = url.searchParams.get(name) ?? 'x';
    while (url.searchParams.getAll(name).length < 2) url.searchParams.append(name, value);
    const res = await browser.get(url.href, json);
    expectError(res, 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response is malformed.');
    expect(stack.op.tokenRequests).toHaveLength(0);
    // Rejected before the transaction is touched: the untampered callback still completes.
    expect((await browser.get(original)).status).toBe(302);
  });

  test('an over-long parameter is 400 CALLBACK_PARAMS_INVALID', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.set('code', 'c'.repeat(5000));
    expectError(await browser.get(url.href, json), 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response is malformed.');
  });

  test("a callback on another connector's path is 400 CALLBACK_CONNECTOR_MISMATCH with no token request", async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser, 'corp');
    url.pathname = '/auth/callback/other';
    const res = await browser.get(url.href, json);
    expectError(res, 400, 'CALLBACK_CONNECTOR_MISMATCH', 'The sign-in response arrived for another provider than the one the sign-in started with.');
    expect(stack.op.tokenRequests).toHaveLength(0);
    await expectSignedOut(browser);
    // Single use: the transaction is gone, the right path cannot be used afterwards either.
    url.pathname = '/auth/callback/corp';
    expectError(await browser.get(url.href, json), 400, 'CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.');
    expect(stack.op.tokenRequests).toHaveLength(0);
  });

  test('an unknown connector path with a valid state is refused without a token request', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.pathname = '/auth/callback/nope';
    const res = await browser.get(url.href, json);
    expectError(res, 400, 'CALLBACK_CONNECTOR_MISMATCH', 'The sign-in response arrived for another provider than the one the sign-in started with.');
    expect(stack.op.tokenRequests).toHaveLength(0);
  });

  test('an upstream error=access_denied renders a 400 page with escaped text', async () => {
    const browser = stack.browser();
    stack.op.nextInteractionError = 'access_denied';
    stack.op.nextInteractionErrorDescription = '<script>alert("x")</script><img src=x onerror=alert(1)>';
    const url = await callbackUrl(browser);
    expect(url.searchParams.get('error')).toBe('access_denied');
    expect(url.searchParams.get('error_description')).toContain('<script>');
    const res = await browser.get(url.href);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.body).toContain('UPSTREAM_AUTHORIZATION_ERROR');
    expect(res.body).toContain('access_denied');
    expect(res.body).not.toMatch(/<script|<img|onerror=alert/i);
    expect(stack.op.tokenRequests).toHaveLength(0);
    await expectSignedOut(browser);
  });

  test('an upstream error with markup in the error code itself is escaped and never reflected into headers', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    url.searchParams.delete('code');
    url.searchParams.set('error', '<script>alert(1)</script>');
    url.searchParams.set('error_description', 'x\r\nSet-Cookie: evil=1');
    const res = await browser.get(url.href);
    expect(res.status).toBe(400);
    expect(res.body).toContain('UPSTREAM_AUTHORIZATION_ERROR');
    expect(res.body).not.toContain('<script');
    expect(res.body).toContain('&#60;script&#62;');
    expect(res.setCookies.join('\n')).not.toContain('evil');

    const again = await callbackUrl(browser);
    again.searchParams.delete('code');
    again.searchParams.set('error', 'access_denied');
    const api = await browser.get(again.href, json);
    expectError(api, 400, 'UPSTREAM_AUTHORIZATION_ERROR', 'Corporate SSO did not complete the sign-in (access_denied).');
  });

  test('a callback whose iss parameter names another issuer (RFC 9207) is rejected', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    expect(url.searchParams.get('iss')).toBe(stack.op.issuer);
    url.searchParams.set('iss', 'https://evil.example');
    const res = await browser.get(url.href, json);
    expectError(res, 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.');
    expect(stack.op.tokenRequests).toHaveLength(0);
    await expectSignedOut(browser);
  });

  test('no code, state, token or upstream error text reaches the logs', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    await browser.get(url.href);
    const logged = JSON.stringify(stack.logger.lines);
    expect(logged).not.toContain(url.searchParams.get('code')!);
    expect(logged).not.toContain(url.searchParams.get('state')!);
    expect(logged).not.toContain(DEFAULT_CLIENT_SECRET);
    expect(logged).not.toContain('<script');
  });
});
