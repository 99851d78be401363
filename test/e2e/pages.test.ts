/**
 * fedgate's own pages in real Chromium at desktop (1280 px) and phone (390 px) widths: no
 * sideways scrolling, WCAG AA contrast of every text, every control reachable by Tab with a
 * visible focus, operable by keyboard; screenshots kept in test-artifacts/pages/. The pages are
 * reached through the example's whole broker flow: client app → fedgate → development IdP →
 * consent → tokens, then consents, 403, error, both sign-out confirmations and the chooser.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromiumProfile } from '../fixtures/chromium.js';
import { startApp, type ExampleApp } from '../../example-app/app.js';
import { startClientApp, type ClientApp } from '../../example-app/client-app.js';
import { devClientSecret } from '../../example-app/dev-defaults.js';
import { startIdp, type DevIdp } from '../../example-app/idp.js';
import type { Logger } from '../../lib/logger.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { recordLogLine, recordSecret } from '../fixtures/secret-scan.js';

const shots = path.resolve(process.cwd(), 'test-artifacts', 'pages');
const sessionSecret = 'pages-test-session-secret-0123456789-abcdefghijklmn';
const testTimeout = 120_000;
const widths = [1280, 390] as const;

let redis: RedisServer;
let idp: DevIdp;
let client: ClientApp;
let app: ExampleApp;
let multi: ExampleApp;
let context: BrowserContext;
let userDataDir: string;

function recordingLogger(): Logger {
  const at = (level: string) => (obj: object, msg?: string) => {
    try {
      recordLogLine({ level, msg, ...obj });
    } catch {
      // test-artifacts/logs may vanish under a parallel run's globalSetup
    }
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function exampleApp(config: string, clientUrl?: string): Promise<ExampleApp> {
  return startApp({
    port: 0,
    idpUrl: idp.url,
    redisUrl: redis.url,
    config: path.resolve('example-app', config),
    env: { FEDGATE_SESSION_SECRET: sessionSecret, EXAMPLE_IDP_CLIENT_SECRET: devClientSecret },
    logger: recordingLogger(),
    ...(clientUrl ? { clientUrl } : {}),
  });
}

beforeAll(async () => {
  recordSecret(sessionSecret);
  recordSecret(devClientSecret);
  redis = await startRedis();
  idp = await startIdp({ port: 0 });
  let issuer = '';
  client = await startClientApp({ port: 0, fedgateIssuer: () => issuer });
  app = await exampleApp('gateway.json', client.url);
  issuer = app.gateway.config.tokens.issuer;
  multi = await exampleApp('gateway.multi.json');
  await mkdir(shots, { recursive: true });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'fedgate-chromium-'));
  context = await launchChromiumProfile(userDataDir, { viewport: { width: 1280, height: 900 } });
}, testTimeout);

afterAll(async () => {
  await context?.close();
  await Promise.all([app?.close(), multi?.close(), client?.close(), idp?.close()]);
  await redis?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

interface Audit {
  lang: string;
  viewport: string | null;
  h1: number;
  main: number;
  scrollWidth: number;
  innerWidth: number;
  /** The lowest contrast ratio of any visible text, and where. */
  minContrast: { ratio: number; text: string; color: string; background: string };
  controls: number;
}

/** The in-page helpers (plain JS, see page-audit.js), called by name with JSON arguments. */
const inPageSource = readFileSync(path.resolve('test/e2e/page-audit.js'), 'utf8');
function inPage<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`${inPageSource}\n${fn}(${args.map((a) => JSON.stringify(a)).join(', ')})`) as Promise<T>;
}

/** Presses Tab through the page: every control is reached once, each with a visible focus outline. */
async function tabThrough(page: Page): Promise<string[]> {
  const count = await inPage<number>(page, 'markControls');
  const reached: string[] = [];
  for (let i = 0; i < count + 2 && reached.length < count; i++) {
    await page.keyboard.press('Tab');
    const focused = await inPage<{ id: string; label: string; outline: boolean } | null>(page, 'focusedControl');
    if (!focused || reached.includes(focused.label + focused.id)) continue;
    expect({ control: focused.label, visibleFocus: focused.outline }).toEqual({ control: focused.label, visibleFocus: true });
    reached.push(focused.label + focused.id);
  }
  expect(reached).toHaveLength(count);
  return reached;
}

/** Checks one fedgate page at both widths and keeps a screenshot of each. */
async function checkPage(page: Page, name: string): Promise<void> {
  for (const width of widths) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    const audit = await inPage<Audit>(page, 'auditPage');
    expect({ page: name, width, lang: audit.lang, h1: audit.h1, main: audit.main, viewport: audit.viewport }).toEqual({
      page: name,
      width,
      lang: 'en',
      h1: 1,
      main: 1,
      viewport: 'width=device-width, initial-scale=1',
    });
    expect({ page: name, width, sideways: audit.scrollWidth > audit.innerWidth }).toEqual({ page: name, width, sideways: false });
    expect({ page: name, width, contrast: audit.minContrast, ok: audit.minContrast.ratio >= 4.5 }).toMatchObject({ ok: true });
    expect(audit.controls).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(shots, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await tabThrough(page);
}

/** Tabs to the control with this accessible text and presses Enter: keyboard operation. */
async function pressWithKeyboard(page: Page, text: string): Promise<void> {
  await inPage(page, 'blurFocus');
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const label = await inPage<string>(page, 'focusedText');
    if (label === text) {
      await page.keyboard.press('Enter');
      return;
    }
  }
  throw new Error(`no control "${text}" reachable by Tab`);
}

test(
  'the broker flow and every fedgate page, at desktop and phone widths, by keyboard',
  async () => {
    await context.clearCookies();
    const page = await context.newPage();
    try {
      // The client app signs in through fedgate, which sends the browser on to the development IdP.
      await page.goto(client.url);
      await page.getByRole('link', { name: 'Sign in with fedgate' }).click();
      await page.waitForURL((u) => u.href.startsWith(`${idp.url}/corp/interaction/`));
      await page.getByRole('button', { name: /Sign in as Alice Liddell/ }).click();

      // fedgate's consent page: the client is not trusted.
      await page.waitForURL((u) => u.href.startsWith(`${app.url}/auth/interaction/`));
      await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Allow Reports demo to access your account?');
      expect(await page.locator('main').innerText()).toContain('Signed in as alice@example.com');
      await checkPage(page, 'consent');
      await pressWithKeyboard(page, 'Allow');

      // Back at the client app with fedgate's tokens and userinfo.
      await page.waitForURL(`${client.url}/`);
      expect(await page.locator('#client-sub').innerText()).toBe('corp|alice');
      expect(JSON.parse(await page.locator('#client-userinfo').innerText())).toMatchObject({
        sub: 'corp|alice',
        name: 'Alice Liddell',
        email: 'alice@example.com',
      });
      expect(JSON.parse(await page.locator('#client-id-token').innerText())).toMatchObject({ iss: `${app.url}/auth`, aud: 'reports-demo' });

      // The consents page lists the client.
      await page.goto(`${app.url}/auth/consents`);
      expect(await page.locator('main').innerText()).toContain('Reports demo');
      await checkPage(page, 'consents');

      // 403 with a way to another account and home.
      const res = await page.goto(`${app.url}/admin`);
      expect(res?.status()).toBe(403);
      expect(await page.getByRole('link', { name: 'Sign in with another account' }).getAttribute('href')).toBe(
        `/auth/logout?returnTo=${encodeURIComponent('/auth/login?prompt=login&returnTo=%2Fadmin')}`,
      );
      expect(await page.getByRole('link', { name: 'Back to the application' }).getAttribute('href')).toBe(`${app.url}/`);
      await checkPage(page, 'forbidden');

      // An error page (a callback nobody started).
      const err = await page.goto(`${app.url}/auth/callback/corp?code=forged&state=forged`);
      expect(err?.status()).toBe(400);
      expect(await page.getByRole('link', { name: 'Try again' }).getAttribute('href')).toBe('/auth/login');
      await checkPage(page, 'error');

      // A sign-out link on another site of the same user: fedgate asks first.
      await page.goto(client.url);
      await inPage(page, 'addLink', `${app.url}/auth/logout?returnTo=%2F`, 'sign out of the gateway');
      await page.getByRole('link', { name: 'sign out of the gateway' }).click();
      await page.waitForURL((u) => u.href.startsWith(`${app.url}/auth/logout`));
      await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Sign out?');
      await checkPage(page, 'logout-confirm');
      await pressWithKeyboard(page, 'Stay signed in');
      await page.waitForURL(`${app.url}/`);

      // The client app signs out (RP-initiated logout): fedgate's broker confirmation, by keyboard.
      await page.goto(client.url);
      await page.getByRole('link', { name: 'Sign out' }).click();
      await page.waitForURL((u) => u.href.startsWith(`${app.url}/auth/`));
      await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Sign out?');
      expect(await page.locator('main').innerText()).toContain('You asked to sign out from Reports demo.');
      await checkPage(page, 'broker-logout-confirm');
      await pressWithKeyboard(page, 'Yes, sign me out');
      // The connector signs out upstream too (logout: "upstream"), whose return address is the gateway's home.
      await page.waitForURL(`${app.url}/`);
      await page.goto(client.url);
      await page.getByRole('link', { name: 'Sign in with fedgate' }).waitFor({ state: 'visible' });

      // The chooser of a two-provider gateway.
      await page.goto(`${multi.url}/auth/login?returnTo=%2Fprofile`);
      await page.getByRole('link', { name: 'Sign in with Example Corp SSO' }).waitFor({ state: 'visible' });
      await checkPage(page, 'chooser');
      await page.getByLabel('Or continue with your work e-mail').fill('nobody@unknown.example');
      await page.keyboard.press('Enter');
      await page.getByRole('alert').waitFor({ state: 'visible' });
      await checkPage(page, 'chooser-notice');
    } catch (err) {
      await page.screenshot({ path: path.join(shots, `failure-${Date.now()}.png`), fullPage: true }).catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n(page: ${page.url()})`, { cause: err });
    } finally {
      for (const c of await context.cookies()) recordSecret(c.value);
      await page.close();
    }
  },
  testTimeout,
);
