/**
 * A real browser (headless Debian Chromium, driven by playwright-core) through the example app,
 * its bundled development IdP (a real oidc-provider with an HTML login form) and a real Redis.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromiumProfile } from '../fixtures/chromium.js';
import { startApp, type ExampleApp } from '../../example-app/app.js';
import { devClientSecret } from '../../example-app/dev-defaults.js';
import { startIdp, type DevIdp } from '../../example-app/idp.js';
import type { Logger } from '../../lib/logger.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { recordLogLine, recordSecret } from '../fixtures/secret-scan.js';

const artifacts = path.resolve(process.cwd(), 'test-artifacts');
const sessionSecret = 'browser-test-session-secret-0123456789-abcdefghijkl';

const testTimeout = 90_000;

let redis: RedisServer;
let idp: DevIdp;
let context: BrowserContext;
let userDataDir: string;
const apps: ExampleApp[] = [];

/** Feeds the suite's secret scan. A logger must never throw into the gateway, so a failed write is dropped. */
function recordingLogger(): Logger {
  const at = (level: string) => (obj: object, msg?: string) => {
    try {
      recordLogLine({ level, msg, ...obj });
    } catch {
      // test-artifacts/logs vanished (another jest run's globalSetup cleans it)
    }
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function exampleApp(config: string): Promise<ExampleApp> {
  recordSecret(sessionSecret);
  recordSecret(devClientSecret);
  const app = await startApp({
    port: 0,
    idpUrl: idp.url,
    redisUrl: redis.url,
    config: path.resolve('example-app', config),
    env: { FEDGATE_SESSION_SECRET: sessionSecret, EXAMPLE_IDP_CLIENT_SECRET: devClientSecret },
    logger: recordingLogger(),
  });
  apps.push(app);
  return app;
}

/** Runs a scenario; on failure saves a full-page screenshot to test-artifacts/ before failing. */
async function withScreenshot(name: string, run: (page: Page) => Promise<void>): Promise<void> {
  await context.clearCookies();
  const page = await context.newPage();
  try {
    await run(page);
  } catch (err) {
    await mkdir(artifacts, { recursive: true });
    const file = path.join(artifacts, `browser-${name}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n(screenshot: ${file}, page: ${page.url()})`, { cause: err });
  } finally {
    for (const c of await context.cookies()) recordSecret(c.value);
    await page.close();
  }
}

/** The decoded JSON of a `<pre>` on the profile page. */
async function preJson(page: Page, selector: string): Promise<Record<string, unknown>> {
  return JSON.parse(await page.locator(selector).innerText()) as Record<string, unknown>;
}

beforeAll(async () => {
  redis = await startRedis();
  idp = await startIdp({ port: 0 });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'fedgate-chromium-'));
  context = await launchChromiumProfile(userDataDir);
}, testTimeout);

afterAll(async () => {
  await context?.close();
  await Promise.all(apps.map((a) => a.close()));
  await idp?.close();
  await redis?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

test(
  'a non-admin signs in through the login form, sees mapped claims and tokens, is refused /admin, calls the API, signs out',
  async () => {
    const app = await exampleApp('gateway.json');
    await withScreenshot('single', async (page) => {
      // The protected page sends the browser through fedgate to the IdP's login form.
      await page.goto(`${app.url}/profile`);
      await page.waitForURL((u) => u.href.startsWith(`${idp.url}/corp/interaction/`));
      expect(await page.getByRole('alert').innerText()).toContain('DEVELOPMENT IDENTITY PROVIDER');
      await page.getByRole('button', { name: /Sign in as Alice Liddell/ }).click();

      // Back on the page that was asked for, with the mapped claims.
      await page.waitForURL(`${app.url}/profile`);
      expect(await page.locator('#sub').innerText()).toBe('corp|alice');
      expect(await page.locator('#scopes').innerText()).toBe('profile:read reports:read');
      const claims = await page.locator('#claims table').innerText();
      expect(claims).toContain('alice@example.com');
      expect(claims).toMatch(/roles\s+\["analyst"\]/);
      expect(claims).toMatch(/tenant\s+"corp"/);
      expect(await page.locator('header').innerText()).toContain('Signed in as Alice Liddell');

      // The decoded local tokens: an ID token for identity, an RFC 9068 access token for APIs.
      expect(await preJson(page, '#id-token .jwt-header')).toMatchObject({ typ: 'JWT', alg: 'ES256' });
      expect(await preJson(page, '#id-token .jwt-payload')).toMatchObject({
        sub: 'corp|alice',
        aud: 'fedgate',
        email: 'alice@example.com',
        iss: `${app.url}/auth`,
      });
      expect(await preJson(page, '#access-token .jwt-header')).toMatchObject({ typ: 'at+jwt' });
      const at = await preJson(page, '#access-token .jwt-payload');
      expect(at).toMatchObject({ sub: 'corp|alice', aud: app.url, scope: 'profile:read reports:read', roles: ['analyst'] });
      expect(at).not.toHaveProperty('email');

      // Not an admin: the role guard answers 403.
      const admin = await page.goto(`${app.url}/admin`);
      expect(admin?.status()).toBe(403);
      // A browser gets an HTML page (API clients get JSON `{ error: 'forbidden' }`).
      await expect(page.getByRole('heading', { name: 'Access denied' }).isVisible()).resolves.toBe(true);
      expect(await page.locator('body').innerText()).toContain('FORBIDDEN');

      // The API, from the page (session cookie)...
      await page.goto(`${app.url}/profile`);
      await page.getByRole('button', { name: 'Call GET /api/reports' }).click();
      await page.locator('#api-result[data-status]').waitFor();
      expect(await page.locator('#api-result').getAttribute('data-status')).toBe('200');
      const apiText = await page.locator('#api-result').innerText();
      expect(JSON.parse(apiText.slice(apiText.indexOf('\n') + 1))).toMatchObject({
        sub: 'corp|alice',
        via: 'session',
        scope: ['profile:read', 'reports:read'],
      });

      // ...and as curl would call it, with the local access token as a Bearer token and no cookie.
      const curl = await page.locator('#api details pre').textContent();
      const token = /Bearer ([^"]+)"/.exec(curl ?? '')?.[1];
      expect(token).toBeDefined();
      recordSecret(token);
      const bearer = await fetch(`${app.url}/api/reports`, { headers: { authorization: `Bearer ${token}` } });
      expect(bearer.status).toBe(200);
      expect(await bearer.json()).toMatchObject({ sub: 'corp|alice', via: 'bearer' });

      // Sign out (POST): the local session ends, then the IdP's session (logout "upstream").
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${app.url}/`);
      expect(await page.locator('header').innerText()).toContain('Sign in');

      // The protected page asks for a login again: the IdP shows its form, no silent sign-in.
      await page.goto(`${app.url}/profile`);
      await page.waitForURL((u) => u.href.startsWith(`${idp.url}/corp/interaction/`));
      await page.getByRole('button', { name: /Sign in as Alice Liddell/ }).waitFor({ state: 'visible' });
    });
  },
  testTimeout,
);

test(
  'two vendors: chooser, home-realm discovery by e-mail domain, and Auth0-style claims mapped to the same profile',
  async () => {
    const app = await exampleApp('gateway.multi.json');
    await withScreenshot('multi', async (page) => {
      await page.goto(`${app.url}/admin`);
      // fedgate's chooser lists both connectors and offers the e-mail field.
      await page.waitForURL((u) => u.pathname === '/auth/login');
      await page.getByRole('link', { name: 'Sign in with Example Corp SSO' }).waitFor({ state: 'visible' });
      await page.getByRole('link', { name: 'Sign in with Acme Inc. (Auth0-style)' }).waitFor({ state: 'visible' });
      await page.getByLabel('Or continue with your work e-mail').fill('erik@acme.test');
      await page.getByRole('button', { name: 'Continue' }).click();

      // The acme.test domain leads to the Auth0-style tenant, which highlights the hinted user.
      await page.waitForURL((u) => u.href.startsWith(`${idp.url}/acme/interaction/`));
      await page.getByRole('button', { name: /Sign in as Erik Olsen \(login_hint\)/ }).click();

      // Namespaced, capitalised upstream roles became the local `roles: ["admin", "analyst"]`.
      await page.waitForURL(`${app.url}/admin`);
      expect(await page.locator('h1').innerText()).toBe('Admin area');
      await page.goto(`${app.url}/profile`);
      expect(await page.locator('#sub').innerText()).toBe('acme|auth0|65f0c0ffee0000000000e21c');
      const claims = await page.locator('#claims table').innerText();
      expect(claims).toMatch(/roles\s+\["admin","analyst"\]/);
      expect(claims).toMatch(/groups\s+\["acme:platform"\]/);
      expect(claims).toMatch(/username\s+"erik"/);
      expect(claims).toMatch(/tenant\s+"acme"/);
      const res = await page.goto(`${app.url}/api/reports`);
      expect(res?.status()).toBe(200);
    });
  },
  testTimeout,
);
