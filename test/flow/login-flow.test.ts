import { startStack, type Stack } from '../fixtures/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('login → protected page → userinfo → logout', () => {
  test('the full path through the real upstream OP and Redis', async () => {
    const browser = stack.browser();
    // Not signed in: browser navigation is sent to login with returnTo.
    const first = await browser.get(`${stack.url}/dashboard`);
    expect(first.status).toBe(302);
    expect(first.location).toBe(`${stack.url}/auth/login?returnTo=%2Fdashboard`);

    const res = await browser.follow(`${stack.url}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${stack.url}/dashboard`);
    const body = res.json<{ sub: string; via: string; claims: Record<string, unknown>; scope: string[] }>();
    expect(body.sub).toBe('corp|alice');
    expect(body.via).toBe('session');
    expect(body.claims).toMatchObject({ sub: 'corp|alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example', roles: ['analyst'] });
    expect(body.scope).toEqual(['reports:read']);

    // The upstream saw PKCE S256, a state and a nonce, and the exact configured redirect URI.
    const authz = stack.op.authorizationRequests.at(-1)!;
    expect(authz.get('code_challenge_method')).toBe('S256');
    expect(authz.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authz.get('state')!.length).toBeGreaterThanOrEqual(43);
    expect(authz.get('nonce')).toBeTruthy();
    expect(authz.get('redirect_uri')).toBe(`${stack.url}/auth/callback/corp`);
    expect(stack.op.tokenRequests.at(-1)!.get('code_verifier')).toBeTruthy();

    const info = await browser.get(`${stack.url}/auth/userinfo`, { headers: { accept: 'application/json' } });
    expect(info.status).toBe(200);
    expect(info.json()).toMatchObject({ sub: 'corp|alice', email: 'alice@example.com' });

    const home = await browser.get(`${stack.url}/`);
    expect(home.body).toBe('hi Alice Example');

    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect(out.status).toBe(302);
    expect(out.location).toBe(`${stack.url}/`);
    const after = await browser.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } });
    expect(after.status).toBe(401);
    expect(after.json()).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
    expect(after.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });
});
