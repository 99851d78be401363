/**
 * fedgate's own forms (consent Allow/Deny, the cross-site "Sign out?" confirmation, withdrawal at
 * /auth/consents) submitted by a real Chromium, under whatever Referrer-Policy the app sets
 * (helmet's default is `no-referrer`, which makes a same-origin form POST carry `Origin: null`),
 * and refused when they come from elsewhere; errors of form POSTs are pages, not JSON.
 */
import * as oidc from 'openid-client';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../fixtures/chromium.js';
import { CONFIDENTIAL_SECRET, authorize, discover, startBrokerStack, type BrokerClientSpec, type BrokerStack } from './helpers.js';
import { recordSecret } from '../fixtures/secret-scan.js';
import type { Browser } from '../fixtures/browser.js';

const untrusted: BrokerClientSpec = { client_id: 'third-party', client_secret: CONFIDENTIAL_SECRET, scopes: ['openid', 'profile', 'email', 'offline_access'] };
const policies = ['no-referrer', 'strict-origin', 'same-origin', 'strict-origin-when-cross-origin'] as const;

let stack: BrokerStack;
let browser: Chromium;
/** The Referrer-Policy the app sets on every response (like helmet), before fedgate runs. */
let appPolicy: string = 'no-referrer';

beforeAll(async () => {
  stack = await startBrokerStack([untrusted], {
    before: (app) =>
      app.use((_req, res, next) => {
        res.setHeader('Referrer-Policy', appPolicy);
        next();
      }),
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** A fresh Chromium profile per scenario; its cookies feed the secret scan. */
async function inChromium(run: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await run(page, context);
  } finally {
    for (const c of await context.cookies()) recordSecret(c.value);
    await context.close();
  }
}

/** Starts the untrusted client's authorization in Chromium and waits for fedgate's consent page. */
async function toConsentPage(page: Page, config: oidc.Configuration): Promise<{ state: string; verifier: string }> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: stack.rp.callback,
    scope: 'openid profile email',
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  await page.goto(url.href);
  await page.getByRole('button', { name: 'Allow' }).waitFor({ state: 'visible', timeout: 10_000 });
  expect(new URL(page.url()).pathname).toMatch(/^\/auth\/interaction\//);
  return { state, verifier };
}

async function signedInChromium(context: BrowserContext): Promise<boolean> {
  const res = await context.request.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' }, maxRedirects: 0 });
  return res.status() === 200;
}

/** Withdraws alice's consents (through the consents page), so every scenario starts without one. */
async function forgetConsents(): Promise<void> {
  const b = await stack.login();
  const listed = await b.get(`${stack.url}/auth/consents`);
  const token = /name="form_token" value="([^"]+)"/.exec(listed.body)?.[1];
  if (!token) return;
  const res = await b.post(`${stack.url}/auth/consents`, { client_id: untrusted.client_id, form_token: token }, { headers: { origin: stack.url } });
  expect(res.status).toBe(303);
}

beforeEach(forgetConsents);

describe.each(policies)('in Chromium, with the app setting Referrer-Policy: %s everywhere', (policy) => {
  beforeEach(() => {
    appPolicy = policy;
  });

  test('consent: Allow sends a code back to the client, and the code redeems', async () => {
    await inChromium(async (page) => {
      const config = await discover(stack, untrusted);
      const { state, verifier } = await toConsentPage(page, config);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((u) => u.href.startsWith(stack.rp.callback), { timeout: 10_000 });
      const back = new URL(page.url());
      expect(back.searchParams.get('error')).toBeNull();
      const tokens = await oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
      recordSecret(tokens.access_token);
      expect(tokens.claims()).toMatchObject({ sub: 'corp|alice', aud: 'third-party' });
    });
  }, 30_000);

  test('consent: Deny sends access_denied back to the client', async () => {
    await inChromium(async (page) => {
      const config = await discover(stack, untrusted);
      const { state } = await toConsentPage(page, config);
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.waitForURL((u) => u.href.startsWith(stack.rp.callback), { timeout: 10_000 });
      const back = new URL(page.url());
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('state')).toBe(state);
      expect(back.searchParams.get('code')).toBeNull();
    });
  }, 30_000);

  test('a sign-out link from another site asks first; confirming signs out', async () => {
    await inChromium(async (page, context) => {
      await page.goto(`${stack.url}/dashboard`);
      expect(await signedInChromium(context)).toBe(true);
      await page.goto(`${stack.rp.url}/link?to=${encodeURIComponent(`${stack.url}/auth/logout`)}`);
      await page.locator('#go').click();
      await page.getByRole('heading', { name: 'Sign out?' }).waitFor({ state: 'visible', timeout: 10_000 });
      expect(await signedInChromium(context)).toBe(true);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${stack.url}/`, { timeout: 10_000 });
      expect(await page.locator('body').innerText()).toBe('hello');
      expect(await signedInChromium(context)).toBe(false);
    });
  }, 30_000);

  test('withdrawal at /auth/consents', async () => {
    await inChromium(async (page) => {
      const config = await discover(stack, untrusted);
      await toConsentPage(page, config);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((u) => u.href.startsWith(stack.rp.callback), { timeout: 10_000 });
      await page.goto(`${stack.url}/auth/consents`);
      await page.getByRole('button', { name: 'Withdraw access of App third-party' }).click();
      await page.getByText('You have not allowed any application.').waitFor({ state: 'visible', timeout: 10_000 });
      expect(new URL(page.url()).pathname).toBe('/auth/consents');
      // The consent page comes back for that client.
      await toConsentPage(page, config);
    });
  }, 30_000);
});

describe('errors of form posts in Chromium are pages', () => {
  beforeAll(() => {
    appPolicy = 'no-referrer';
  });

  test('a consent form with a wrong token answers an HTML error page, not JSON', async () => {
    await inChromium(async (page) => {
      await toConsentPage(page, await discover(stack, untrusted));
      await page.locator('input[name="form_token"]').evaluate((el) => el.setAttribute('value', 'forged'));
      const answer = page.waitForResponse((r) => r.request().method() === 'POST');
      await page.getByRole('button', { name: 'Allow' }).click();
      const res = await answer;
      expect(res.status()).toBe(403);
      expect(res.headers()['content-type']).toBe('text/html; charset=utf-8');
      await page.getByRole('heading', { name: 'Sign-in problem' }).waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('code').innerText()).toBe('FORM_TOKEN_INVALID');
    });
  }, 30_000);

  test('a sign-out form posted from another site is refused with a page, and the session stays', async () => {
    await inChromium(async (page, context) => {
      await page.goto(`${stack.url}/dashboard`);
      await page.goto(`${stack.rp.url}/link?post=1&to=${encodeURIComponent(`${stack.url}/auth/logout`)}`);
      const answer = page.waitForResponse((r) => r.request().method() === 'POST');
      await page.locator('#submit').click();
      const res = await answer;
      expect(res.status()).toBe(403);
      expect(res.headers()['content-type']).toBe('text/html; charset=utf-8');
      expect(await page.locator('code').innerText()).toBe('LOGOUT_CROSS_SITE');
      expect(await signedInChromium(context)).toBe(true);
    });
  }, 30_000);
});

describe('HTTP: the same-origin signals of a form post', () => {
  /** The consent page of a fresh attempt and its form token. */
  async function consentStep(b: Browser): Promise<{ url: string; token: string }> {
    const attempt = await authorize(stack, await discover(stack, untrusted), b, { scope: 'openid profile' });
    expect(attempt.result.status).toBe(200);
    return { url: attempt.result.url, token: /name="form_token" value="([^"]+)"/.exec(attempt.result.body)![1]! };
  }
  const json = { accept: 'application/json' };

  test.each([
    ['Origin: null without fetch metadata', { origin: 'null' }],
    ['Origin: null, Sec-Fetch-Site: cross-site', { origin: 'null', 'sec-fetch-site': 'cross-site' }],
    ['Origin: null, Sec-Fetch-Site: same-site', { origin: 'null', 'sec-fetch-site': 'same-site' }],
    ['no Origin, Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['a foreign Origin, Sec-Fetch-Site: same-origin', { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }],
  ])('consent with a valid token but %s is refused', async (_name, headers) => {
    const b = stack.browser();
    const step = await consentStep(b);
    const res = await b.post(step.url, { form_token: step.token, decision: 'approve' }, { headers: { ...json, ...headers } });
    expect(res.status).toBe(403);
    expect(res.json()).toEqual({
      error: 'form_token_invalid',
      code: 'FORM_TOKEN_INVALID',
      message: 'The form expired or did not come from this site; return to the application and start again.',
    });
  });

  test('consent with Origin: null and Sec-Fetch-Site: same-origin is accepted; a wrong token still is not', async () => {
    const b = stack.browser();
    const bad = await consentStep(b);
    const refused = await b.post(
      bad.url,
      { form_token: 'x'.repeat(43), decision: 'approve' },
      { headers: { ...json, origin: 'null', 'sec-fetch-site': 'same-origin' } },
    );
    expect(refused.status).toBe(403);
    const step = await consentStep(b);
    const res = await b.post(step.url, { form_token: step.token, decision: 'approve' }, { headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } });
    expect(res.status).toBe(303);
    expect(res.location).toMatch(/\/auth\/authorize\//);
  });

  test.each([
    ['Origin: null without fetch metadata', { origin: 'null' }],
    ['Origin: null, Sec-Fetch-Site: same-site', { origin: 'null', 'sec-fetch-site': 'same-site' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
  ])('logout POST with %s is refused and the session stays', async (_name, headers) => {
    const b = await stack.login();
    const res = await b.post(`${stack.url}/auth/logout`, {}, { headers: { ...json, ...headers } });
    expect(res.status).toBe(403);
    expect(res.json()).toEqual({ error: 'logout_cross_site', code: 'LOGOUT_CROSS_SITE', message: 'Sign-out must be requested from this site.' });
    expect((await b.get(`${stack.url}/dashboard`, { headers: json })).status).toBe(200);
  });

  test.each([
    ['Origin: null and Sec-Fetch-Site: same-origin', { origin: 'null', 'sec-fetch-site': 'same-origin' }],
    ['Sec-Fetch-Site: none (user-initiated)', { 'sec-fetch-site': 'none' }],
  ])('logout POST with %s signs out', async (_name, headers) => {
    const b = await stack.login();
    const res = await b.post(`${stack.url}/auth/logout`, {}, { headers });
    expect(res.status).toBe(302);
    expect((await b.get(`${stack.url}/dashboard`, { headers: json })).status).toBe(401);
  });

  test('consents withdrawal: Origin: null needs Sec-Fetch-Site: same-origin and the form token', async () => {
    const b = stack.browser();
    const step = await consentStep(b);
    const approved = await b.post(step.url, { form_token: step.token, decision: 'approve' }, { headers: { origin: stack.url } });
    expect(approved.status).toBe(303);
    const pageRes = await b.get(`${stack.url}/auth/consents`);
    const token = /name="form_token" value="([^"]+)"/.exec(pageRes.body)![1]!;
    const refusals: Array<Record<string, string>> = [{ origin: 'null' }, { origin: 'null', 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }];
    for (const headers of refusals) {
      const refused = await b.post(`${stack.url}/auth/consents`, { client_id: 'third-party', form_token: token }, { headers: { ...json, ...headers } });
      expect(refused.status).toBe(403);
      expect(refused.json()).toEqual({ error: 'form_token_invalid', code: 'FORM_TOKEN_INVALID', message: 'The form did not come from this site.' });
    }
    const forged = await b.post(
      `${stack.url}/auth/consents`,
      { client_id: 'third-party', form_token: 'forged' },
      { headers: { ...json, origin: 'null', 'sec-fetch-site': 'same-origin' } },
    );
    expect(forged.status).toBe(403);
    const ok = await b.post(
      `${stack.url}/auth/consents`,
      { client_id: 'third-party', form_token: token },
      { headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } },
    );
    expect(ok.status).toBe(303);
    expect((await b.get(`${stack.url}/auth/consents`, { headers: json })).json()).toEqual({ consents: [] });
  });
});

test('the 403 page: "Sign in with another account" ends the session and asks the upstream to authenticate anew (prompt=login)', async () => {
  const b = await stack.login();
  const cookieName = 'fedgate.sid';
  const first = b.cookies.get(stack.url, cookieName);
  expect(first).toBeDefined();
  const denied = await b.get(`${stack.url}/admin`, { headers: { accept: 'text/html' } });
  expect(denied.status).toBe(403);
  const href = /href="([^"]+)"[^>]*>Sign in with another account/
    .exec(denied.body)?.[1]
    ?.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c)));
  expect(href).toBeDefined();
  const before = stack.op.authorizationRequests.length;
  await b.follow(`${stack.url}${href!}`);
  // Without prompt=login the upstream would silently sign the same account in again.
  expect(stack.op.authorizationRequests.slice(before).map((p) => p.get('prompt'))).toEqual(['login']);
  expect(stack.op.authorizationRequests.at(-1)?.get('state')).toBeTruthy();
  // The upstream signed the user in anew (the imitation as alice again): a new session, not the old one.
  const second = b.cookies.get(stack.url, cookieName);
  expect(second).toBeDefined();
  expect(second).not.toBe(first);
  expect((await b.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } })).status).toBe(200);
}, 30_000);
