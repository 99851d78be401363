import { startStack, type Stack } from '../fixtures/stack.js';
import { labelledReturnToCorpus as corpus } from './return-to-corpus.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/** The raw Location of the callback's final redirect after a login started with `returnTo`. */
async function loginLanding(returnTo: string): Promise<string | null> {
  const browser = stack.browser();
  const res = await browser.follow(`${stack.url}/auth/login/corp?returnTo=${encodeURIComponent(returnTo)}`, {
    // Stop before the app's own page: only where the gateway sends the browser matters.
    stopAt: (u) => u.origin !== stack.op.url && !u.pathname.startsWith('/auth/'),
  });
  const last = res.responses.at(-1)!;
  expect(new URL(last.url).pathname).toBe('/auth/callback/corp');
  expect(last.status).toBe(302);
  return last.headers.get('location');
}

describe('returnTo end to end', () => {
  test.each(corpus)('login with returnTo=%s', async (_label, input, expected) => {
    expect(await loginLanding(input)).toBe(expected);
  });

  test.each(corpus)('GET logout with returnTo=%s', async (_label, input, expected) => {
    const browser = await stack.login();
    const res = await browser.get(`${stack.url}/auth/logout?returnTo=${encodeURIComponent(input)}`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(expected);
  });

  test.each(corpus.filter(([, , expected]) => expected === '/').slice(0, 8))(
    'POST logout with returnTo=%s in the form redirects to /',
    async (_label, input) => {
      const browser = await stack.login();
      const res = await browser.post(`${stack.url}/auth/logout`, { returnTo: input }, { headers: { origin: stack.url } });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/');
    },
  );

  test('a repeated returnTo falls back to / (one value only)', async () => {
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/auth/login/corp?returnTo=%2Fok&returnTo=%2F%2Fevil.com`, {
      stopAt: (u) => u.origin !== stack.op.url && !u.pathname.startsWith('/auth/'),
    });
    expect(res.responses.at(-1)!.headers.get('location')).toBe('/');
  });

  test('requireAuth sends the original path on as returnTo, and the login brings the browser back to it', async () => {
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/dashboard?tab=1`);
    expect(res.chain[1]).toBe(`${stack.url}/auth/login?returnTo=${encodeURIComponent('/dashboard?tab=1')}`);
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${stack.url}/dashboard?tab=1`);
  });
});
