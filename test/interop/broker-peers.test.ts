/**
 * Real, independently written clients of fedgate in broker mode, with the user in a real Chromium:
 * - Apache httpd + mod_auth_openidc 2.4 (Debian), an untrusted client: consent, consent
 *   remembered, refresh, RP-initiated logout (it revokes its tokens there), back-channel logout,
 *   withdrawal at /auth/consents, deny;
 * - Authlib 1.2 (Debian python3-authlib), a trusted client: never asked, ID token validation,
 *   userinfo, refresh with rotation, revocation, RP-initiated and back-channel logout, bad input.
 * The upstream is the suite's OP imitation (real oidc-provider). The Apache tests run in order and
 * share one Chromium profile (`alice`): one user's story from first consent to withdrawal.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../fixtures/chromium.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { getFreePort, waitFor } from '../fixtures/ports.js';
import { recordSecret } from '../fixtures/secret-scan.js';
import { apacheConfig, startApache, type ApacheRp } from './broker-peers/apache.js';
import { startAuthlibRp, type AuthlibRp } from './broker-peers/authlib.js';

const APACHE_SECRET = 'apache-client-secret-0123456789-abcdefghijklmn';
const AUTHLIB_SECRET = 'authlib-client-secret-0123456789-abcdefghijklm';

let stack: Stack;
let apache: ApacheRp;
let authlib: AuthlibRp;
let browser: Chromium;
let alice: BrowserContext;
let badSecretPort: number;

beforeAll(async () => {
  for (const bin of ['/usr/sbin/apache2']) if (!existsSync(bin)) throw new Error(`${bin} not found: the interop peers are installed by .ci/run`);
  recordSecret(APACHE_SECRET);
  recordSecret(AUTHLIB_SECRET);
  const [apachePort, authlibPort] = [await getFreePort(), await getFreePort()];
  badSecretPort = await getFreePort();
  const apacheUrl = `http://127.0.0.1:${apachePort}`;
  const authlibUrl = `http://127.0.0.1:${authlibPort}`;
  stack = await startStack({
    config: (config) => {
      config.op = {
        enabled: true,
        clients: [
          {
            client_id: 'apache',
            client_secret: APACHE_SECRET,
            client_name: 'Apache app',
            trusted: false,
            // The second one is a misconfigured instance's (wrong secret, see "bad client input").
            redirect_uris: [`${apacheUrl}/protected/redirect_uri`, `http://127.0.0.1:${badSecretPort}/protected/redirect_uri`],
            post_logout_redirect_uris: [`${apacheUrl}/loggedout.html`],
            backchannel_logout_uri: `${apacheUrl}/protected/redirect_uri?logout=backchannel`,
          },
          {
            client_id: 'authlib',
            client_secret: AUTHLIB_SECRET,
            client_name: 'Authlib app',
            trusted: true,
            redirect_uris: [`${authlibUrl}/cb`],
            post_logout_redirect_uris: [`${authlibUrl}/bye`],
            backchannel_logout_uri: `${authlibUrl}/backchannel`,
          },
        ],
        sessionCheckInterval: 1,
      };
    },
  });
  const issuer = `${stack.url}/auth`;
  apache = await startApache({ port: apachePort, issuer, clientId: 'apache', clientSecret: APACHE_SECRET, scope: 'openid profile email' });
  authlib = await startAuthlibRp({ port: authlibPort, issuer, clientId: 'authlib', clientSecret: AUTHLIB_SECRET, scope: 'openid profile email' });
  browser = await launchChromium();
  alice = await browser.newContext();
}, 60_000);

afterAll(async () => {
  if (alice) for (const c of await alice.cookies()) recordSecret(c.value);
  await browser?.close();
  await apache?.stop();
  await authlib?.stop();
  await stack?.close();
});

/** Navigation requests of a page (redirect hops included) and whether fedgate showed it a consent page. */
function watch(page: Page): { urls: string[]; consentShown: () => boolean } {
  const urls: string[] = [];
  let consent = false;
  page.on('request', (r) => {
    if (r.isNavigationRequest()) urls.push(r.url());
  });
  page.on('response', (r) => {
    if (r.url().includes('/auth/interaction/') && r.status() === 200 && r.request().method() === 'GET') consent = true;
  });
  return { urls, consentShown: () => consent };
}

async function newContext(): Promise<BrowserContext> {
  return browser.newContext();
}

/** What mod_auth_openidc holds for the browser's session (its info hook). */
async function apacheInfo(context: BrowserContext): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await context.request.get(`${apache.redirectUri}?info=json`, { maxRedirects: 0 });
  const text = await res.text();
  const body = res.status() === 200 ? (JSON.parse(text) as Record<string, unknown>) : {};
  for (const k of ['access_token', 'refresh_token']) if (typeof body[k] === 'string') recordSecret(body[k]);
  return { status: res.status(), body };
}

async function apacheClient(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(`${stack.url}/auth`), 'apache', APACHE_SECRET, oidc.ClientSecretBasic(APACHE_SECRET), {
    execute: [oidc.allowInsecureRequests],
  });
}

describe('Apache httpd + mod_auth_openidc (untrusted client)', () => {
  test("first login: consent in Chromium, then the protected page; the session holds fedgate's tokens", async () => {
    const page = await alice.newPage();
    await page.goto(apache.protectedUrl);
    await page.getByRole('button', { name: 'Allow' }).waitFor({ state: 'visible', timeout: 15_000 });
    expect(await page.locator('h1').innerText()).toContain('Apache app');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(apache.protectedUrl, { timeout: 15_000 });
    expect((await page.locator('body').innerText()).trim()).toBe('protected hello');
    const info = await apacheInfo(alice);
    expect(info.status).toBe(200);
    expect(info.body.id_token).toMatchObject({ iss: `${stack.url}/auth`, aud: 'apache', sub: 'corp|alice', email: 'alice@example.com' });
    expect(typeof info.body.access_token).toBe('string');
    expect(typeof info.body.refresh_token).toBe('string');
    expect(info.body.userinfo).toMatchObject({ sub: 'corp|alice', email: 'alice@example.com' });
    await page.close();
  }, 45_000);

  test('consent remembered: a new browser session signs in to Apache without the consent page', async () => {
    const other = await newContext();
    try {
      const page = await other.newPage();
      const seen = watch(page);
      await page.goto(apache.protectedUrl);
      await page.waitForURL(apache.protectedUrl, { timeout: 15_000 });
      expect((await page.locator('body').innerText()).trim()).toBe('protected hello');
      expect(seen.urls.some((u) => u.startsWith(`${stack.url}/auth/authorize`))).toBe(true);
      expect(seen.consentShown()).toBe(false);
      expect((await apacheInfo(other)).body.id_token).toMatchObject({ sub: 'corp|alice' });
    } finally {
      await other.close();
    }
  }, 45_000);

  test("refresh: the module's refresh hook gets a rotated refresh token and a new access token", async () => {
    const before = await apacheInfo(alice);
    const page = await alice.newPage();
    const hook = `${apache.redirectUri}?refresh=${encodeURIComponent(apache.protectedUrl)}&access_token=${encodeURIComponent(String(before.body.access_token))}`;
    await page.goto(hook);
    await page.waitForURL(apache.protectedUrl, { timeout: 15_000 });
    const after = await apacheInfo(alice);
    expect(after.body.access_token).not.toBe(before.body.access_token);
    expect(after.body.refresh_token).not.toBe(before.body.refresh_token);
    await page.close();
  }, 45_000);

  test('RP-initiated logout: confirmed at fedgate, the module revokes its tokens, and the consent stays', async () => {
    const before = await apacheInfo(alice);
    const page = await alice.newPage();
    await page.goto(`${apache.redirectUri}?logout=${encodeURIComponent(apache.loggedOutUrl)}`);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click({ timeout: 15_000 });
    await page.waitForURL((u) => u.href.startsWith(apache.loggedOutUrl), { timeout: 15_000 });
    expect(await page.locator('h1').innerText()).toBe('Logged out of Apache');
    expect((await apacheInfo(alice)).status).not.toBe(200);
    // mod_auth_openidc revoked its refresh token at fedgate's revocation endpoint...
    await expect(oidc.refreshTokenGrant(await apacheClient(), String(before.body.refresh_token))).rejects.toMatchObject({ error: 'invalid_grant' });
    // ...which ended its tokens, not the user's consent: signing in again asks nothing.
    const seen = watch(page);
    await page.goto(apache.protectedUrl);
    await page.waitForURL(apache.protectedUrl, { timeout: 15_000 });
    expect(seen.urls.some((u) => u.startsWith(`${stack.url}/auth/authorize`))).toBe(true);
    expect(seen.consentShown()).toBe(false);
    await page.close();
  }, 45_000);

  test('back-channel logout: signing out at the app ends the Apache session', async () => {
    expect((await apacheInfo(alice)).status).toBe(200);
    const out = await alice.request.post(`${stack.url}/auth/logout`, { headers: { origin: stack.url }, maxRedirects: 0 });
    expect(out.status()).toBe(302);
    await waitFor('the Apache session to end', async () => (await apacheInfo(alice)).status !== 200, { timeoutMs: 10_000, intervalMs: 100 });
    const again = await alice.request.get(apache.protectedUrl, { maxRedirects: 0 });
    expect(again.status()).toBe(302);
    expect(again.headers().location).toMatch(new RegExp(`^${stack.url}/auth/authorize\\?`));
  }, 45_000);

  test('withdrawal at /auth/consents brings the consent page back; deny is answered by the module', async () => {
    const page = await alice.newPage();
    await page.goto(apache.protectedUrl);
    await page.waitForURL(apache.protectedUrl, { timeout: 15_000 });
    await page.goto(`${stack.url}/auth/consents`);
    await page.getByRole('button', { name: 'Withdraw access of Apache app' }).click();
    await page.getByText('You have not allowed any application.').waitFor({ state: 'visible', timeout: 10_000 });
    const fresh = await newContext();
    try {
      const p2 = await fresh.newPage();
      await p2.goto(apache.protectedUrl);
      await p2.getByRole('button', { name: 'Deny' }).click({ timeout: 15_000 });
      await p2.waitForURL((u) => u.href.startsWith(apache.redirectUri), { timeout: 15_000 });
      // The error response carries `iss` (RFC 9207 §2); mod_auth_openidc 2.4.12 takes a request
      // with `iss` and no `code` for a third-party-initiated login and shows its own error page
      // (see docs/interop.md). What matters here: the denial reached the client, nothing was issued.
      const back = new URL(p2.url());
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('iss')).toBe(`${stack.url}/auth`);
      expect(back.searchParams.get('code')).toBeNull();
      expect((await apacheInfo(fresh)).status).not.toBe(200);
    } finally {
      await fresh.close();
      await page.close();
    }
  }, 45_000);
});

describe('Apache httpd + mod_auth_openidc: bad client configuration', () => {
  /** Runs a misconfigured Apache instance for one scenario in a fresh Chromium profile. */
  async function withApache(
    opts: { port: number; clientSecret: string; redirectPath?: string },
    run: (rp: ApacheRp, page: Page) => Promise<void>,
  ): Promise<void> {
    const rp = await startApache({ issuer: `${stack.url}/auth`, clientId: 'apache', scope: 'openid profile email', ...opts });
    const context = await newContext();
    try {
      await run(rp, await context.newPage());
    } finally {
      await context.close();
      await rp.stop();
    }
  }

  test('an unregistered redirect URI: fedgate shows its error page and never redirects to it', async () => {
    await withApache({ port: await getFreePort(), clientSecret: APACHE_SECRET, redirectPath: '/protected/unregistered' }, async (rp, page) => {
      const res = await page.goto(rp.protectedUrl);
      expect(res?.status()).toBe(400);
      expect(page.url().startsWith(`${stack.url}/auth/authorize`)).toBe(true);
      expect(await page.getByRole('heading', { name: 'Sign-in problem' }).isVisible()).toBe(true);
      expect(await page.locator('code').innerText()).toBe('invalid_redirect_uri');
    });
  }, 45_000);

  test('a wrong client secret: the code exchange is refused (invalid_client) and nobody is signed in', async () => {
    await withApache({ port: badSecretPort, clientSecret: 'not-the-apache-secret-0123456789-abcdefghijk' }, async (rp, page) => {
      await page.goto(rp.protectedUrl);
      // The consent page shows unless the user allowed this client before (same client id).
      if (page.url().includes('/auth/interaction/')) await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((u) => u.href.startsWith(rp.redirectUri), { timeout: 15_000 });
      expect(new URL(page.url()).searchParams.get('code')).not.toBeNull();
      // The module shows a bare "Error:" page and logs fedgate's answer.
      expect(await rp.errorLog()).toContain('response contained an "error" entry with value: ""invalid_client""');
      expect((await page.context().request.get(`${rp.redirectUri}?info=json`, { maxRedirects: 0 })).status()).not.toBe(200);
    });
  }, 45_000);
});

describe('Authlib (trusted client)', () => {
  test('never asked for consent; the ID token validates; userinfo, refresh with rotation, revocation', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      const seen = watch(page);
      await page.goto(`${authlib.url}/login`);
      await page.waitForURL((u) => u.href.startsWith(authlib.callback), { timeout: 15_000 });
      const signedIn = JSON.parse(await page.locator('body').innerText()) as Record<string, unknown>;
      expect(signedIn).toMatchObject({ sub: 'corp|alice', refresh: true, claims: { iss: `${stack.url}/auth`, aud: 'authlib', email: 'alice@example.com' } });
      expect(seen.urls.some((u) => u.includes('/auth/interaction/'))).toBe(true);
      expect(seen.consentShown()).toBe(false);
      expect(await authlib.call('/userinfo')).toEqual({
        status: 200,
        body: { status: 200, body: expect.objectContaining({ sub: 'corp|alice', email: 'alice@example.com' }) },
      });
      expect(await authlib.call('/refresh')).toEqual({ status: 200, body: { rotated: true, sub: 'corp|alice', new_access_token: true } });
      expect(await authlib.call('/revoke')).toEqual({ status: 200, body: { status: 200 } });
      expect(await authlib.call('/refresh')).toMatchObject({ status: 502, body: { error: 'invalid_grant' } });
      expect((await authlib.call<{ body: Record<string, unknown> }>('/userinfo')).body).toMatchObject({ status: 401 });
    } finally {
      await context.close();
    }
  }, 45_000);

  test('RP-initiated logout returns to the client with its state; back-channel logout reaches it', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${authlib.url}/login`);
      await page.waitForURL((u) => u.href.startsWith(authlib.callback), { timeout: 15_000 });
      await page.goto(`${authlib.url}/logout`);
      await page.getByRole('button', { name: 'Yes, sign me out' }).click({ timeout: 15_000 });
      await page.waitForURL((u) => u.href.startsWith(`${authlib.url}/bye`), { timeout: 15_000 });
      expect(JSON.parse(await page.locator('body').innerText())).toEqual({ signed_out: true, state: 'bye-state' });

      await page.goto(`${authlib.url}/login`);
      await page.waitForURL((u) => u.href.startsWith(authlib.callback), { timeout: 15_000 });
      const before = (await authlib.call<{ logouts: unknown[] }>('/state')).body.logouts.length;
      const out = await context.request.post(`${stack.url}/auth/logout`, { headers: { origin: stack.url }, maxRedirects: 0 });
      expect(out.status()).toBe(302);
      const state = await waitFor(
        'the back-channel logout at Authlib',
        async () => {
          const s = (await authlib.call<{ signed_in: boolean; logouts: Array<Record<string, unknown>> }>('/state')).body;
          return s.logouts.length > before && s;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(state.signed_in).toBe(false);
      expect(state.logouts.at(-1)).toMatchObject({ sub: 'corp|alice', typ: 'logout+jwt' });
    } finally {
      await context.close();
    }
  }, 45_000);

  test('bad client input: an unregistered redirect_uri stops at fedgate, a wrong secret is invalid_client', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      const res = await page.goto(`${authlib.url}/login?redirect_uri=${encodeURIComponent(`${authlib.url}/elsewhere`)}`);
      expect(res?.status()).toBe(400);
      expect(page.url().startsWith(`${stack.url}/auth/authorize`)).toBe(true);
      expect(await page.getByRole('heading', { name: 'Sign-in problem' }).isVisible()).toBe(true);
      expect(await page.locator('code').innerText()).toBe('invalid_redirect_uri');

      await page.goto(`${authlib.url}/login?bad_secret=1`);
      await page.waitForURL((u) => u.href.startsWith(authlib.callback), { timeout: 15_000 });
      expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ error: 'invalid_client' });
    } finally {
      await context.close();
    }
  }, 45_000);
});

describe('docs/interop.md', () => {
  test('the Apache configuration it shows uses the directives (and values) the suite runs with', () => {
    const doc = readFileSync(new URL('../../docs/interop.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.search(/^## Apache mod_auth_openidc$/m));
    const block = /```apache\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const tested = apacheConfig(
      '/tmp/x',
      { port: 8080, issuer: 'https://app.example.com/auth', clientId: 'apache', clientSecret: 's', scope: 'openid profile email' },
      'https://site.example.com',
    )
      .split('\n')
      .map((l) => l.trim());
    for (const line of block!.split('\n').map((l) => l.trim())) {
      const [directive] = line.split(' ');
      // Placeholders (<...>) differ; every directive is in the tested config, fixed values verbatim.
      expect(tested.some((t) => (line.includes('<') && !line.startsWith('<') ? t.startsWith(`${directive} `) : t === line))).toBe(true);
    }
  });
});
