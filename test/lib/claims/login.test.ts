import { decodeJwt } from 'jose';
import type { GatewayEvent } from '../../../index.js';
import { startStack, type Stack } from '../../fixtures/stack.js';

// Hostile or malformed upstream claims, through a real login against the OP imitation.
let stack: Stack;
const events: GatewayEvent[] = [];
beforeAll(async () => {
  stack = await startStack({
    op: {
      accounts: {
        mallory: { email: ['mallory@evil.example', 'alice@example.com'], email_verified: true, name: 'Mallory', roles: ['analyst'] },
        objname: { email: 'o@example.com', name: { given: 'O', family: 'Bject' } },
        badverified: { email: 'b@example.com', email_verified: ['true'] },
        numeric: { email: 'n@example.com', name: 1234, email_verified: 'true' },
      },
    },
    options: { onEvent: (e) => events.push(e) },
    routes: (app) => app.get('/id-token', (req, res) => res.json({ idToken: req.auth.idToken })),
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.op.reset();
  events.length = 0;
});

const json = { headers: { accept: 'application/json' } };

async function callbackAs(account: string) {
  stack.op.nextLogin = account;
  const browser = stack.browser();
  const res = await browser.follow(`${stack.url}/auth/login/corp`, {
    stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
  });
  const callback = await browser.get(res.stoppedAt!, json);
  return { browser, callback };
}

describe('standard claims keep their OpenID Connect types', () => {
  test.each<[string, string]>([
    ['an e-mail array', 'mallory'],
    ['a name object', 'objname'],
    ['an email_verified array', 'badverified'],
  ])('%s refuses the login (CLAIMS_INVALID), no session, nothing reaches the app', async (_name, account) => {
    const { browser, callback } = await callbackAs(account);
    expect(callback.status).toBe(502);
    expect(callback.json()).toMatchObject({ code: 'CLAIMS_INVALID' });
    expect(JSON.stringify(callback.json())).not.toContain('evil.example');
    expect(events.filter((e) => e.type === 'login.failed')).toEqual([expect.objectContaining({ connector: 'corp', code: 'CLAIMS_INVALID' })]);
    expect(events.some((e) => e.type === 'login.succeeded')).toBe(false);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(401);
  });

  test('scalars of another JSON type are coerced: a number name becomes a string, "true" a boolean', async () => {
    stack.op.nextLogin = 'numeric';
    const browser = await stack.login();
    const me = (await browser.get(`${stack.url}/dashboard`, json)).json() as { claims: Record<string, unknown> };
    expect(me.claims).toMatchObject({ email: 'n@example.com', name: '1234', email_verified: true });
    const { idToken } = (await browser.get(`${stack.url}/id-token`, json)).json() as { idToken: string };
    expect(decodeJwt(idToken)).toMatchObject({ email: 'n@example.com', name: '1234', email_verified: true });
  });
});

describe('a hostile upstream claim named __proto__', () => {
  test('pollutes neither the claims nor any prototype, in the ID token or in userinfo', async () => {
    const hostile = JSON.parse('{"__proto__": {"isAdmin": true, "roles": ["admin"], "polluted": "yes"}}') as Record<string, unknown>;
    stack.op.tamperIdToken = (payload, header) => ({ payload: { ...payload, ...hostile }, header });
    const browser = await stack.login();
    const me = (await browser.get(`${stack.url}/dashboard`, json)).json() as { claims: Record<string, unknown> };
    expect(me.claims.isAdmin).toBeUndefined();
    expect(me.claims.polluted).toBeUndefined();
    expect(me.claims.roles).toEqual(['analyst']);
    expect(Object.keys(me.claims)).not.toContain('__proto__');
    // requireAuth sees the real roles only.
    expect((await browser.get(`${stack.url}/admin`, json)).status).toBe(403);
    // Nothing leaked into this process (the gateway runs in it).
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});
