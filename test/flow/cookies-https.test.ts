import { startStack, type Stack } from '../fixtures/stack.js';
import { DEFAULT_CLIENT_ID } from '../fixtures/op.js';
import { createBrowser, type Browser } from '../fixtures/browser.js';

// The app's public origin is https (TLS ends at a proxy that sets X-Forwarded-Proto); the test
// talks plain http to the app on 127.0.0.1 and maps the public origin back onto it.
const publicOrigin = 'https://app.example.test';
const proxied = { 'x-forwarded-proto': 'https' };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      c.baseUrl = publicOrigin;
    },
  });
  await stack.op.setRedirectUris(DEFAULT_CLIENT_ID, [`${publicOrigin}/auth/callback/corp`], [`${publicOrigin}/`]);
});
afterAll(async () => {
  await stack?.close();
});

/** The app URL that the proxy would forward `publicUrl` to. */
const local = (publicUrl: string): string => {
  const u = new URL(publicUrl);
  return `${stack.url}${u.pathname}${u.search}`;
};

function attributes(header: string): string[] {
  return header
    .split(';')
    .slice(1)
    .map((a) => a.trim().toLowerCase());
}

async function login(browser: Browser): Promise<{ loginCookies: string[]; callbackCookies: string[]; location: string | undefined }> {
  const start = await browser.get(`${stack.url}/auth/login/corp?returnTo=%2Fdashboard`, { headers: proxied });
  expect(start.status).toBe(302);
  const upstream = await browser.follow(start.location!, { stopAt: (u) => u.origin === publicOrigin });
  expect(upstream.stoppedAt).toMatch(new RegExp(`^${publicOrigin}/auth/callback/corp\\?`));
  const callback = await browser.get(local(upstream.stoppedAt!), { headers: proxied });
  expect(callback.status).toBe(302);
  return { loginCookies: start.setCookies, callbackCookies: callback.setCookies, location: callback.headers.get('location') ?? undefined };
}

describe('cookies on an https baseUrl', () => {
  test('the session cookie is __Host-fedgate: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async () => {
    const browser = createBrowser({ secureOnLocalhost: true });
    const { loginCookies, callbackCookies, location } = await login(browser);
    expect(location).toBe('/dashboard');

    const tx = loginCookies.find((c) => c.startsWith('__Host-fedgate-tx='))!;
    expect(tx).toBeDefined();
    expect(attributes(tx)).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=lax', 'secure']));
    // The pending login itself: __Secure- (Secure enforced by the browser), only on the auth routes.
    const pending = loginCookies.find((c) => c.startsWith('__Secure-fedgate-login.'))!;
    expect(pending).toBeDefined();
    expect(attributes(pending)).toEqual(expect.arrayContaining(['path=/auth', 'httponly', 'samesite=lax', 'secure']));
    expect(callbackCookies.some((c) => c.startsWith(pending.slice(0, pending.indexOf('=') + 1)) && /max-age=0/i.test(c))).toBe(true);

    const session = callbackCookies.find((c) => c.startsWith('__Host-fedgate='))!;
    expect(session).toBeDefined();
    const attrs = attributes(session);
    expect(attrs).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=lax', 'secure']));
    expect(attrs.some((a) => a.startsWith('domain='))).toBe(false);
    expect(callbackCookies.some((c) => c.startsWith('fedgate.sid='))).toBe(false);

    // The jar enforces the __Host- rules as browsers do, so it only kept the cookie if they hold.
    expect(browser.cookies.get(stack.url, '__Host-fedgate')).toBeDefined();
    const me = await browser.get(`${stack.url}/dashboard`, { headers: { ...proxied, accept: 'application/json' } });
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ sub: 'corp|alice' });
  });

  test('the redirect URI sent upstream is built from baseUrl, not from the Host header', async () => {
    const browser = createBrowser({ secureOnLocalhost: true });
    const spoofs: Array<Record<string, string>> = [
      { host: 'evil.example' },
      { 'x-forwarded-host': 'evil.example' },
      { forwarded: 'host=evil.example;proto=http' },
    ];
    for (const headers of spoofs) {
      const res = await browser.get(`${stack.url}/auth/login/corp`, { headers: { ...proxied, ...headers } });
      expect(res.status).toBe(302);
      expect(new URL(res.location!).searchParams.get('redirect_uri')).toBe(`${publicOrigin}/auth/callback/corp`);
    }
  });

  test('logout clears __Host-fedgate with the same attributes', async () => {
    const browser = createBrowser({ secureOnLocalhost: true });
    await login(browser);
    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { ...proxied, origin: publicOrigin } });
    expect(out.status).toBe(302);
    const cleared = out.setCookies.find((c) => c.startsWith('__Host-fedgate='))!;
    expect(cleared).toBeDefined();
    expect(attributes(cleared)).toEqual(expect.arrayContaining(['path=/', 'secure', 'max-age=0']));
    expect(browser.cookies.get(stack.url, '__Host-fedgate')).toBeUndefined();
    expect((await browser.get(`${stack.url}/dashboard`, { headers: { ...proxied, accept: 'application/json' } })).status).toBe(401);
  });
});
