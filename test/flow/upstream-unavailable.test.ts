import { startStack, type Stack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/ports.js';
import type { BrowserResponse } from '../fixtures/browser.js';

// Two connectors on the same upstream, each with its own lazy discovery: `corp` meets a refused
// connection, `hang` an upstream that never answers. Both fail before their first discovery.
const httpTimeout = 1;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      c.httpTimeout = httpTimeout;
      const first = (c.connectors as Array<Record<string, unknown>>)[0]!;
      c.connectors = [first, { ...first, id: 'hang', name: 'Hanging SSO' }];
    },
  });
});
afterAll(async () => {
  stack?.op.up();
  await stack?.close();
});

const json = { headers: { accept: 'application/json' } };

async function startLogin(connector: string): Promise<BrowserResponse & { ms: number }> {
  const started = Date.now();
  const res = await stack.browser().get(`${stack.url}/auth/login/${connector}`, json);
  return Object.assign(res, { ms: Date.now() - started });
}

function expectUnavailable(res: BrowserResponse & { ms: number }, withinMs: number): void {
  expect({ status: res.status, body: res.json() }).toEqual({
    status: 503,
    // The first failure names "the identity provider", a retry during backoff the connector.
    body: {
      error: 'upstream_unavailable',
      code: 'UPSTREAM_UNAVAILABLE',
      message: expect.stringMatching(/^(The identity provider|Corporate SSO|Hanging SSO) is not reachable right now\.$/) as unknown,
    },
  });
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(res.ms).toBeLessThan(withinMs);
}

async function appStillServes(): Promise<void> {
  const home = await stack.browser().get(`${stack.url}/`);
  expect(home.status).toBe(200);
  expect(home.body).toBe('hello');
  expect((await stack.browser().get(`${stack.url}/auth/jwks.json`)).status).toBe(200);
}

describe('upstream unavailable before its first discovery', () => {
  test('connection reset: login answers 503 UPSTREAM_UNAVAILABLE at once; after op.up() it recovers', async () => {
    stack.op.down('reset');
    const res = await startLogin('corp');
    expectUnavailable(res, httpTimeout * 1000);
    expect(res.json<{ message: string }>().message).not.toMatch(/127\.0\.0\.1|ECONNRESET|fetch failed/);
    expect(stack.op.requests.some((r) => r.path === '/.well-known/openid-configuration')).toBe(true);
    await appStillServes();
    // While down, every attempt fails the same way (backoff or a fresh failure), never a 500.
    expectUnavailable(await startLogin('corp'), httpTimeout * 1000);

    stack.op.up();
    const back = await waitFor(
      'corp discovery to succeed after the upstream came back',
      async () => {
        const r = await startLogin('corp');
        expect(r.status).not.toBe(500);
        return r.status === 302 ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(back.location!.startsWith(`${stack.op.issuer}/auth?`)).toBe(true);
    // And a full login goes through.
    const done = await stack.browser().follow(`${stack.url}/auth/login/corp?returnTo=%2Fdashboard`);
    expect(done.status).toBe(200);
    expect(done.url).toBe(`${stack.url}/dashboard`);
  });

  test('a hanging upstream: login answers 503 within httpTimeout, the app keeps serving meanwhile', async () => {
    stack.op.hang = true;
    try {
      const pending = startLogin('hang');
      // While the discovery hangs, the rest of the app (and the other connector) answer at once.
      await appStillServes();
      const other = await startLogin('corp');
      expect(other.status).toBe(302);
      expect(other.ms).toBeLessThan(1000);

      const res = await pending;
      expectUnavailable(res, httpTimeout * 1000 + 1500);
      expect(res.ms).toBeGreaterThanOrEqual(httpTimeout * 1000 - 50);
    } finally {
      stack.op.up();
    }
    await waitFor(
      'hang discovery to succeed after the upstream answers again',
      async () => {
        const r = await startLogin('hang');
        expect(r.status).not.toBe(500);
        return r.status === 302;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  });

  test('once discovered, an upstream answering 503 does not break login start (cached metadata)', async () => {
    stack.op.down('503');
    try {
      expect((await startLogin('corp')).status).toBe(302);
      const health = await stack.gateway.health();
      expect(health.connectors.map((c) => c.state)).toEqual(['ready', 'ready']);
    } finally {
      stack.op.up();
    }
  });
});
