import express4 from 'express4';
import { startStack, type Stack } from '../fixtures/stack.js';

// The same app and gateway on Express 4 (peer range ^4.21 || ^5): the devDependency alias.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ expressModule: express4 });
});
afterAll(async () => {
  await stack?.close();
});

const json = { headers: { accept: 'application/json' } };

describe('Express 4', () => {
  test('the alias really is Express 4', async () => {
    const { default: pkg } = (await import('express4/package.json', { with: { type: 'json' } })) as { default: { version: string } };
    expect(pkg.version).toMatch(/^4\./);
  });

  test('login → protected page → userinfo → logout', async () => {
    const browser = stack.browser();
    const first = await browser.get(`${stack.url}/dashboard`);
    expect(first.status).toBe(302);
    expect(first.location).toBe(`${stack.url}/auth/login?returnTo=%2Fdashboard`);

    const res = await browser.follow(`${stack.url}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${stack.url}/dashboard`);
    expect(res.json()).toMatchObject({ sub: 'corp|alice', via: 'session', scope: ['reports:read'] });

    expect((await browser.get(`${stack.url}/auth/userinfo`, json)).json()).toMatchObject({ sub: 'corp|alice', email: 'alice@example.com' });
    expect((await browser.get(`${stack.url}/api/reports`, json)).status).toBe(200);
    expect((await browser.get(`${stack.url}/admin`, json)).status).toBe(403);
    expect((await browser.get(`${stack.url}/auth/jwks.json`)).status).toBe(200);

    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect(out.status).toBe(302);
    const after = await browser.get(`${stack.url}/dashboard`, json);
    expect(after.status).toBe(401);
    expect(after.json()).toEqual({ error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
  });

  test('callback errors are coded 400s on Express 4 too', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/callback/corp?code=x`, json);
    expect({ status: res.status, body: res.json() }).toEqual({
      status: 400,
      body: { error: 'callback_params_invalid', code: 'CALLBACK_PARAMS_INVALID', message: 'The sign-in response is missing its state.' },
    });
  });
});
