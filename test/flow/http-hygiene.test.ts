import express from 'express';
import type { Server } from 'node:http';
import { fedgate, requireAuth, type Gateway } from '../../index.js';
import { startStack, SESSION_SECRET, testKeys, type Stack } from '../fixtures/stack.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../fixtures/op.js';
import { closeServer } from '../fixtures/ports.js';
import type { Browser, BrowserResponse } from '../fixtures/browser.js';

// HTTP hygiene of guarded and own responses: no-store, HSTS on https, cross-site refusal of
// cookie-authenticated state-changing requests.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    routes: (app) => {
      app.get('/plain', requireAuth(), (_req, res) => res.json({ ok: true }));
      app.get('/cached', requireAuth(), (_req, res) => {
        res.set('Cache-Control', 'private, max-age=60');
        res.json({ ok: true });
      });
      app.get('/token', requireAuth(), (req, res) => res.json({ token: req.auth.accessToken }));
      app.all('/items', requireAuth(), (req, res) => res.json({ method: req.method, via: req.auth.via }));
      app.post('/webhook', requireAuth({ allowCrossSite: true }), (req, res) => res.json({ via: req.auth.via }));
    },
  });
});
afterAll(async () => {
  await stack?.close();
});

const json = { accept: 'application/json' };
const stateChanging = ['POST', 'PUT', 'PATCH', 'DELETE'];

let signedIn: Browser | undefined;
async function session(): Promise<Browser> {
  signedIn ??= await stack.login();
  return signedIn;
}

function send(browser: Browser, method: string, path: string, headers: Record<string, string>): Promise<BrowserResponse> {
  return browser.request(method, `${stack.url}${path}`, {
    headers: { ...json, ...headers },
    ...(method === 'GET' ? {} : { body: '{}' }),
    contentType: 'application/json',
  });
}

function expectCrossSite(res: BrowserResponse): void {
  expect({ status: res.status, body: res.json() }).toEqual({
    status: 403,
    body: { error: 'cross_site_request', code: 'CROSS_SITE_REQUEST', message: 'This request came from another site and was refused.' },
  });
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('Cache-Control on guarded responses', () => {
  test('a guarded route that sets nothing answers no-store; one that sets its own keeps it', async () => {
    const browser = await session();
    const plain = await browser.get(`${stack.url}/plain`, { headers: json });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toBe('no-store');
    const cached = await browser.get(`${stack.url}/cached`, { headers: json });
    expect(cached.status).toBe(200);
    expect(cached.headers.get('cache-control')).toBe('private, max-age=60');
  });

  test("bearer requests too, and fedgate's own authenticated answers", async () => {
    const browser = await session();
    const { token } = (await browser.get(`${stack.url}/token`, { headers: json })).json<{ token: string }>();
    const bearer = await fetch(`${stack.url}/plain`, { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('cache-control')).toBe('no-store');
    const userinfo = await browser.get(`${stack.url}/auth/userinfo`, { headers: json });
    expect(userinfo.status).toBe(200);
    expect(userinfo.headers.get('cache-control')).toBe('no-store');
    const denied = await browser.get(`${stack.url}/admin`, { headers: json });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('cache-control')).toBe('no-store');
  });

  test('an http baseUrl gets no Strict-Transport-Security (RFC 6797 §7.2)', async () => {
    const res = await (await session()).get(`${stack.url}/auth/jwks.json`);
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });
});

describe('cross-site state-changing requests with the session cookie', () => {
  const refused: Array<[string, () => Record<string, string>]> = [
    ['Origin of another site', () => ({ origin: 'https://evil.example' })],
    ['Origin of another port (same site, other origin)', () => ({ origin: 'http://127.0.0.1:1' })],
    ['Origin of a sibling host name', () => ({ origin: stack.url.replace('127.0.0.1', 'localhost') })],
    ['Sec-Fetch-Site: cross-site without Origin', () => ({ 'sec-fetch-site': 'cross-site' })],
    ['Sec-Fetch-Site: cross-site with a same-origin Origin', () => ({ origin: stack.url, 'sec-fetch-site': 'cross-site' })],
    ['Sec-Fetch-Site: same-site with Origin null', () => ({ origin: 'null', 'sec-fetch-site': 'same-site' })],
    ['Origin null (sandboxed frame) without Sec-Fetch-Site', () => ({ origin: 'null' })],
  ];
  test.each(refused)('%s: 403 CROSS_SITE_REQUEST for every state-changing method', async (_name, headers) => {
    const browser = await session();
    for (const method of stateChanging) expectCrossSite(await send(browser, method, '/items', headers()));
  });

  const allowed: Array<[string, () => Record<string, string>]> = [
    ['same-origin Origin', () => ({ origin: stack.url, 'sec-fetch-site': 'same-origin' })],
    ['Origin null with Sec-Fetch-Site: same-origin (Referrer-Policy: no-referrer form post)', () => ({ origin: 'null', 'sec-fetch-site': 'same-origin' })],
    ['neither header (not a browser)', () => ({})],
  ];
  test.each(allowed)('%s: passes', async (_name, headers) => {
    const browser = await session();
    for (const method of stateChanging) {
      const res = await send(browser, method, '/items', headers());
      expect({ status: res.status, body: res.json() }).toEqual({ status: 200, body: { method, via: 'session' } });
    }
  });

  test('GET is not state-changing and is not refused', async () => {
    const res = await send(await session(), 'GET', '/items', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(res.status).toBe(200);
  });

  test('a bearer request is not cookie-authenticated and is not refused', async () => {
    const browser = await session();
    const { token } = (await browser.get(`${stack.url}/token`, { headers: json })).json<{ token: string }>();
    for (const method of stateChanging) {
      const res = await fetch(`${stack.url}/items`, {
        method,
        headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      expect({ status: res.status, body: (await res.json()) as unknown }).toEqual({ status: 200, body: { method, via: 'bearer' } });
    }
  });

  test('requireAuth({ allowCrossSite: true }) accepts it on that route only', async () => {
    const browser = await session();
    const headers = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
    const res = await send(browser, 'POST', '/webhook', headers);
    expect({ status: res.status, body: res.json() }).toEqual({ status: 200, body: { via: 'session' } });
    expectCrossSite(await send(browser, 'POST', '/items', headers));
  });

  test('without a session a cross-site request is simply unauthenticated (401)', async () => {
    const res = await send(stack.browser(), 'POST', '/items', { origin: 'https://evil.example' });
    expect(res.status).toBe(401);
  });

  test('requireAuth refuses a non-boolean allowCrossSite', () => {
    expect(() => requireAuth({ allowCrossSite: 'yes' as unknown as boolean })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'INVALID_ARGUMENT' }) as Error,
    );
  });
});

describe('Strict-Transport-Security on an https baseUrl', () => {
  const apps: Array<{ server: Server; gateway: Gateway; url: string }> = [];
  afterAll(async () => {
    for (const a of apps) {
      await a.gateway.close();
      await closeServer(a.server);
    }
  });

  /** An app behind a TLS-ending proxy (public origin https), development stores: only headers are looked at. */
  async function httpsApp(hsts?: unknown): Promise<string> {
    const gateway = fedgate(
      {
        baseUrl: 'https://app.example.test',
        session: { secret: SESSION_SECRET, insecureMemoryStore: true },
        tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] } },
        ...(hsts !== undefined ? { hsts } : {}),
        connectors: [{ id: 'corp', type: 'oidc', issuer: 'https://op.example.test', clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }],
      } as Parameters<typeof fedgate>[0],
      { logger: stack.logger },
    );
    const app = express();
    app.use(gateway);
    app.get('/guarded', requireAuth(), (_req, res) => res.json({ ok: true }));
    app.get('/public', (_req, res) => res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    apps.push({ server, gateway, url });
    return url;
  }
  const sts = async (url: string) =>
    (await fetch(url, { headers: { accept: 'application/json', 'x-forwarded-proto': 'https' } })).headers.get('strict-transport-security');

  test("default: one year on fedgate's own routes and guard answers, not on the app's other routes", async () => {
    const url = await httpsApp();
    expect(await sts(`${url}/auth/jwks.json`)).toBe('max-age=31536000');
    expect(await sts(`${url}/auth/userinfo`)).toBe('max-age=31536000');
    expect(await sts(`${url}/guarded`)).toBe('max-age=31536000');
    expect(await sts(`${url}/public`)).toBeNull();
  });

  test('configurable: maxAge and includeSubDomains', async () => {
    const url = await httpsApp({ maxAge: 63072000, includeSubDomains: true });
    expect(await sts(`${url}/auth/jwks.json`)).toBe('max-age=63072000; includeSubDomains');
  });

  test('hsts: false turns it off (a proxy sets it)', async () => {
    const url = await httpsApp(false);
    expect(await sts(`${url}/auth/jwks.json`)).toBeNull();
    expect(await sts(`${url}/guarded`)).toBeNull();
  });

  test('a max-age below one year is refused, naming the path', () => {
    expect(() =>
      fedgate(
        {
          baseUrl: 'https://app.example.test',
          session: { secret: SESSION_SECRET, insecureMemoryStore: true },
          tokens: { insecureEphemeralKeys: true },
          hsts: { maxAge: 3600 },
          connectors: [{ id: 'corp', type: 'oidc', issuer: 'https://op.example.test', clientId: DEFAULT_CLIENT_ID }],
        } as Parameters<typeof fedgate>[0],
        { logger: stack.logger },
      ),
    ).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([expect.objectContaining({ path: 'hsts.maxAge' })]) as unknown,
      }) as Error,
    );
  });
});
