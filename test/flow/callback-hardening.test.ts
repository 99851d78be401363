import type { JWTPayload } from 'jose';
import { startStack, type Stack } from '../fixtures/stack.js';
import type { Browser, BrowserResponse } from '../fixtures/browser.js';

// Malformed callback queries (refused before any token request) and stale upstream ID tokens.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      const first = (c.connectors as Array<Record<string, unknown>>)[0]!;
      c.connectors = [first, { ...first, id: 'strict', name: 'Strict SSO', idTokenMaxAge: 60 }];
    },
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => stack.op.reset());

const json = { headers: { accept: 'application/json' } };
const now = () => Math.floor(Date.now() / 1000);

async function callbackUrl(browser: Browser, connector = 'corp'): Promise<URL> {
  const res = await browser.follow(`${stack.url}/auth/login/${connector}`, {
    stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
  });
  if (!res.stoppedAt) throw new Error(`login did not reach the callback: ${res.status} ${res.url}`);
  return new URL(res.stoppedAt);
}

function expectError(res: BrowserResponse, status: number, code: string, message: string): void {
  expect({ status: res.status, body: res.json() }).toEqual({ status, body: { error: code.toLowerCase(), code, message } });
}

const malformed = (res: BrowserResponse) => expectError(res, 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response is malformed.');

describe('malformed callback parameters', () => {
  const edits: Array<[string, (q: string) => string]> = [
    ['code in array notation instead of code', (q) => q.replace(/(^|&)code=/, '$1code[]=')],
    ['code in array notation next to code', (q) => `${q}&code[]=x`],
    ['state in array notation next to state', (q) => `${q}&state[]=x`],
    ['object notation', (q) => `${q}&code[a]=x`],
    ['a duplicated unknown parameter', (q) => `${q}&session_extra=1&session_extra=2`],
    ['a duplicated code, percent-encoded name', (q) => `${q}&%63ode=x`],
    ['an over-long unknown parameter', (q) => `${q}&extra=${'x'.repeat(5000)}`],
    ['an over-long parameter name', (q) => `${q}&${'n'.repeat(300)}=1`],
    ['too many parameters', (q) => `${q}${Array.from({ length: 60 }, (_, i) => `&p${i}=1`).join('')}`],
    ['neither code nor error', (q) => q.replace(/(^|&)code=[^&]*/, '')],
  ];

  test.each(edits)('%s: 400 CALLBACK_PARAMS_INVALID, no token request, the pending login survives', async (_name, edit) => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const original = url.href;
    const bad = new URL(url.href);
    bad.search = edit(url.search.slice(1));
    const res = await browser.get(bad.href, json);
    malformed(res);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(stack.op.tokenRequests).toHaveLength(0);
    expect((await browser.get(original)).status).toBe(302);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  });

  test('a browser navigation gets the HTML error page, not a 502', async () => {
    const browser = stack.browser();
    const url = await callbackUrl(browser);
    const res = await browser.get(`${url.href.replace('code=', 'code[]=')}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.body).toContain('CALLBACK_PARAMS_INVALID');
    expect(stack.op.tokenRequests).toHaveLength(0);
  });
});

describe('upstream ID token age (idTokenMaxAge)', () => {
  const withIat = (iat: number) => {
    stack.op.tamperIdToken = (p: JWTPayload, h) => ({ payload: { ...p, iat }, header: h });
  };
  const staleRefused = async (connector: string) => {
    const browser = stack.browser();
    const url = await callbackUrl(browser, connector);
    const res = await browser.get(url.href, json);
    expectError(res, 502, 'ID_TOKEN_INVALID', "The identity provider's ID token was rejected.");
    expect(browser.cookies.get(stack.url, 'fedgate.sid')).toBeUndefined();
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(401);
  };
  const accepted = async (connector: string) => {
    const browser = stack.browser();
    const url = await callbackUrl(browser, connector);
    expect((await browser.get(url.href)).status).toBe(302);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  };

  test('an ID token issued a day ago (still unexpired) is refused at the callback', async () => {
    stack.op.tamperIdToken = (p, h) => ({ payload: { ...p, iat: now() - 86_400, exp: now() + 3600 }, header: h });
    await staleRefused('corp');
  });

  test('default: 300 s plus 30 s clock tolerance', async () => {
    withIat(now() - 400);
    await staleRefused('corp');
    withIat(now() - 240);
    await accepted('corp');
  });

  test("the connector's idTokenMaxAge lowers it", async () => {
    withIat(now() - 120);
    await staleRefused('strict');
    withIat(now() - 120);
    await accepted('corp');
  });

  test('a fresh ID token passes on both connectors', async () => {
    await accepted('corp');
    await accepted('strict');
  });
});
