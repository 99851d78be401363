/**
 * Cross-site writes with the session cookie, in real headless Chromium: what the browser really
 * sends (`Origin`, `Sec-Fetch-Site`) decides, not what a test thinks it sends. The attacker page
 * is served from another port of 127.0.0.1: the same site (so the SameSite=Lax cookie rides
 * along) but another origin — the case SameSite alone does not cover.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { launchChromiumProfile } from '../fixtures/chromium.js';
import { requireAuth } from '../../index.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { closeServer } from '../fixtures/ports.js';
import { recordSecret } from '../fixtures/secret-scan.js';

const testTimeout = 90_000;

let stack: Stack;
let attacker: Server;
let attackerUrl: string;
let context: BrowserContext;
let userDataDir: string;

/** A same-origin page under `Referrer-Policy: no-referrer`: its posts carry `Origin: null`. */
const appPage = `<!doctype html><html><head><meta charset="utf-8"><title>app</title></head><body>
<form id="f" method="post" action="/items"><input type="hidden" name="a" value="1"><button id="go">post</button></form>
</body></html>`;

const attackerPage = (target: string) => `<!doctype html><html><head><meta charset="utf-8"><title>evil</title></head><body>
<form id="f" method="post" action="${target}/items"><input type="hidden" name="a" value="1"><button id="go">post</button></form>
</body></html>`;

beforeAll(async () => {
  stack = await startStack({
    routes: (app) => {
      app.get('/page', (_req, res) => {
        res.set('Referrer-Policy', 'no-referrer').type('html').send(appPage);
      });
      app.post('/items', requireAuth(), (req, res) => res.json({ ok: true, via: req.auth.via }));
    },
  });
  attacker = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(attackerPage(stack.url));
  });
  attacker.listen(0, '127.0.0.1');
  await new Promise<void>((r) => attacker.once('listening', () => r()));
  const address = attacker.address();
  attackerUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  userDataDir = await mkdtemp(path.join(tmpdir(), 'fedgate-chromium-'));
  context = await launchChromiumProfile(userDataDir);
}, testTimeout);

afterAll(async () => {
  if (context) for (const c of await context.cookies()) recordSecret(c.value);
  await context?.close();
  if (attacker) await closeServer(attacker);
  await stack?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** Signs the Chromium profile in through the real upstream OP. */
async function signIn(page: Page): Promise<void> {
  await page.goto(`${stack.url}/dashboard`);
  await page.waitForURL(`${stack.url}/dashboard`);
  expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ sub: 'corp|alice', via: 'session' });
}

const isItems = (r: Response) => r.url() === `${stack.url}/items` && r.request().method() === 'POST';

async function submit(page: Page): Promise<{ status: number; body: unknown; origin: string | undefined; site: string | undefined }> {
  const [res] = await Promise.all([page.waitForResponse(isItems), page.click('#go')]);
  const sent = await res.request().allHeaders();
  // A refused form navigation is answered as a page (browsers get HTML), an accepted one by the route's JSON.
  const html = (res.headers()['content-type'] ?? '').startsWith('text/html');
  return { status: res.status(), body: html ? await res.text() : ((await res.json()) as unknown), origin: sent.origin, site: sent['sec-fetch-site'] };
}

test(
  'a same-origin form post and fetch pass, even under Referrer-Policy: no-referrer (Origin: null)',
  async () => {
    const page = await context.newPage();
    try {
      await signIn(page);
      await page.goto(`${stack.url}/page`);
      expect(await submit(page)).toEqual({ status: 200, body: { ok: true, via: 'session' }, origin: 'null', site: 'same-origin' });

      await page.goto(`${stack.url}/page`);
      const viaFetch = await page.evaluate(async () => {
        const r = await fetch('/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        return { status: r.status, body: (await r.json()) as unknown };
      });
      expect(viaFetch).toEqual({ status: 200, body: { ok: true, via: 'session' } });
    } finally {
      await page.close();
    }
  },
  testTimeout,
);

test(
  'a form post and a fetch from another port of the same site carry the cookie and are refused',
  async () => {
    const page = await context.newPage();
    try {
      await signIn(page);
      await page.goto(`${attackerUrl}/`);
      const posted = await submit(page);
      expect(posted).toMatchObject({ status: 403, origin: attackerUrl, site: 'same-site' });
      expect(posted.body).toEqual(expect.stringContaining('CROSS_SITE_REQUEST'));
      expect(posted.body).toEqual(expect.stringContaining('This request came from another site and was refused.'));

      await page.goto(`${attackerUrl}/`);
      const [res] = await Promise.all([
        page.waitForResponse(isItems),
        page.evaluate(async (target) => {
          await fetch(`${target}/items`, { method: 'POST', credentials: 'include', mode: 'no-cors', body: new URLSearchParams({ a: '1' }) }).catch(
            () => undefined,
          );
        }, stack.url),
      ]);
      expect(res.status()).toBe(403);
      // The session itself is untouched.
      await page.goto(`${stack.url}/dashboard`);
      expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ sub: 'corp|alice' });
    } finally {
      await page.close();
    }
  },
  testTimeout,
);
