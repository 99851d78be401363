import { startStack, type Stack } from '../fixtures/stack.js';

// The connector pulls the upstream userinfo after the code exchange (`userinfo: true`).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: (c) => {
      const conn = (c.connectors as Array<Record<string, unknown>>)[0]!;
      conn.userinfo = true;
      conn.claims = { nickname: 'nickname' };
    },
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.op.reset();
  for (const key of Object.keys(stack.op.userinfoOverrides)) delete stack.op.userinfoOverrides[key];
});

const json = { headers: { accept: 'application/json' } };

describe('connector userinfo: true', () => {
  test('userinfo claims overlay the ID token claims before mapping', async () => {
    stack.op.userinfoOverrides.alice = { name: 'Alice From Userinfo', roles: ['analyst', 'admin'], nickname: 'ally' };
    const browser = await stack.login();
    const userinfoCalls = stack.op.requests.filter((r) => r.path.startsWith('/me'));
    expect(userinfoCalls).toHaveLength(1);
    expect(userinfoCalls[0]!.headers.authorization).toMatch(/^Bearer /);

    const me = await browser.get(`${stack.url}/auth/userinfo`, json);
    expect(me.json()).toMatchObject({
      sub: 'corp|alice',
      name: 'Alice From Userinfo',
      email: 'alice@example.com',
      roles: ['analyst', 'admin'],
      nickname: 'ally',
    });
    // The overlaid roles take effect in requireAuth.
    expect((await browser.get(`${stack.url}/admin`, json)).status).toBe(200);
  });

  test('a userinfo sub different from the ID token sub is 502 USERINFO_SUBJECT_MISMATCH and no session', async () => {
    stack.op.tamperUserinfo = (body) => ({ ...body, sub: 'mallory', name: 'Mallory' });
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/auth/login/corp`, {
      stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
    });
    const callback = await browser.get(res.stoppedAt!, json);
    expect({ status: callback.status, body: callback.json() }).toEqual({
      status: 502,
      body: {
        error: 'userinfo_subject_mismatch',
        code: 'USERINFO_SUBJECT_MISMATCH',
        message: "The identity provider's userinfo does not match the signed-in user.",
      },
    });
    expect(browser.cookies.get(stack.url, 'fedgate.sid')).toBeUndefined();
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(401);
    expect(stack.logger.lines.some((l) => JSON.stringify(l).includes('Mallory'))).toBe(false);
  });

  test('a userinfo response without sub is a subject mismatch too', async () => {
    stack.op.tamperUserinfo = (body) => {
      const { sub: _sub, ...rest } = body;
      return rest;
    };
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/auth/login/corp`, {
      stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
    });
    const callback = await browser.get(res.stoppedAt!, json);
    expect({ status: callback.status, body: callback.json() }).toEqual({
      status: 502,
      body: {
        error: 'userinfo_subject_mismatch',
        code: 'USERINFO_SUBJECT_MISMATCH',
        message: "The identity provider's userinfo does not match the signed-in user.",
      },
    });
    expect(browser.cookies.get(stack.url, 'fedgate.sid')).toBeUndefined();
  });

  test('an oversized userinfo response is refused (502 UPSTREAM_RESPONSE_INVALID), never a 500', async () => {
    stack.op.tamperUserinfo = (body) => ({ ...body, padding: 'x'.repeat(600 * 1024) });
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/auth/login/corp`, {
      stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
    });
    const callback = await browser.get(res.stoppedAt!, json);
    expect({ status: callback.status, body: callback.json() }).toEqual({
      status: 502,
      body: { error: 'upstream_response_invalid', code: 'UPSTREAM_RESPONSE_INVALID', message: 'The identity provider sent a response that is too large.' },
    });
    expect(browser.cookies.get(stack.url, 'fedgate.sid')).toBeUndefined();
  });
});
