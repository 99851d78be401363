import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { startStack, type Stack } from '../fixtures/stack.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, generateRsaKey, type IdTokenTamper } from '../fixtures/op.js';
import type { Browser } from '../fixtures/browser.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => stack.op.reset());

const json = { headers: { accept: 'application/json' } };
const now = () => Math.floor(Date.now() / 1000);

/** Runs a login whose callback is answered as JSON, so the error body can be asserted. */
async function loginAsApi(browser: Browser): Promise<{ status: number; body: unknown }> {
  const res = await browser.follow(`${stack.url}/auth/login/corp`, {
    stopAt: (u) => u.origin === stack.url && u.pathname.startsWith('/auth/callback/'),
  });
  if (!res.stoppedAt) throw new Error(`login did not reach the callback: ${res.status} ${res.url}`);
  const callback = await browser.get(res.stoppedAt, json);
  return { status: callback.status, body: callback.body ? callback.json() : undefined };
}

async function expectNoSession(browser: Browser): Promise<void> {
  expect(browser.cookies.get(stack.url, 'fedgate.sid')).toBeUndefined();
  expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(401);
  const redis = stack.redis.client();
  try {
    expect(await redis.keys('fedgate:sess:*')).toEqual([]);
  } finally {
    redis.disconnect();
  }
}

const rejected = {
  status: 502,
  body: { error: 'id_token_invalid', code: 'ID_TOKEN_INVALID', message: "The identity provider's ID token was rejected." },
};

describe('ID token validation (tampered by the upstream)', () => {
  const edit =
    (payload: Partial<JWTPayload>, header: Partial<JWTHeaderParameters> = {}): IdTokenTamper =>
    (p, h) => ({ payload: { ...p, ...payload }, header: { ...h, ...header } });

  const cases: Array<[string, () => void]> = [
    [
      'nonce mismatch',
      () => {
        stack.op.tamperIdToken = edit({ nonce: 'not-the-nonce-we-sent' });
      },
    ],
    [
      'nonce missing',
      () => {
        stack.op.tamperIdToken = (p, h) => {
          const { nonce: _n, ...rest } = p;
          return { payload: rest, header: h };
        };
      },
    ],
    [
      'wrong iss',
      () => {
        stack.op.tamperIdToken = edit({ iss: 'https://evil.example' });
      },
    ],
    [
      'wrong aud',
      () => {
        stack.op.tamperIdToken = edit({ aud: 'another-client' });
      },
    ],
    [
      'aud array with another azp',
      () => {
        stack.op.tamperIdToken = edit({ aud: [DEFAULT_CLIENT_ID, 'other'], azp: 'other' });
      },
    ],
    [
      'expired',
      () => {
        stack.op.tamperIdToken = edit({ iat: now() - 7200, exp: now() - 3600 });
      },
    ],
    [
      'alg none',
      () => {
        stack.op.tamperIdToken = (p) => ({ payload: p, header: { alg: 'none' } });
      },
    ],
    [
      'HS256 signed with the client secret (alg confusion)',
      () => {
        stack.op.tamperIdToken = (p) => ({ payload: p, header: { alg: 'HS256' } });
        stack.op.tamperSigningKey = new TextEncoder().encode(DEFAULT_CLIENT_SECRET);
      },
    ],
    [
      'signed by an unknown key under the known kid',
      () => {
        stack.op.tamperIdToken = edit({});
        stack.op.tamperSigningKey = generateRsaKey().privateKey;
      },
    ],
    [
      'signed by an unknown key with its own kid',
      () => {
        const key = generateRsaKey('unknown-kid');
        stack.op.tamperIdToken = edit({}, { kid: key.kid });
        stack.op.tamperSigningKey = key.privateKey;
      },
    ],
    [
      'missing from the token response',
      () => {
        stack.op.tamperTokenResponse = (body) => {
          const { id_token: _i, ...rest } = body;
          return rest;
        };
      },
    ],
  ];

  test.each(cases)('%s → 502 ID_TOKEN_INVALID and no session', async (_name, tamper) => {
    tamper();
    const browser = stack.browser();
    expect(await loginAsApi(browser)).toEqual(rejected);
    expect(stack.op.tokenRequests).toHaveLength(1);
    await expectNoSession(browser);
  });

  test('the untampered token still logs in (the cases above fail for their tampering only)', async () => {
    stack.op.tamperIdToken = edit({});
    const browser = stack.browser();
    expect((await loginAsApi(browser)).status).toBe(302);
    expect((await browser.get(`${stack.url}/dashboard`, json)).status).toBe(200);
  });
});

describe('login parameters', () => {
  test("client-supplied protocol parameters are ignored; the upstream sees the gateway's own", async () => {
    const evil = new URLSearchParams({
      redirect_uri: 'https://evil.example/cb',
      scope: 'openid admin offline_access',
      state: 'attacker-state',
      nonce: 'attacker-nonce',
      response_type: 'token',
      response_mode: 'fragment',
      code_challenge: 'attacker-challenge-attacker-challenge-attack',
      code_challenge_method: 'plain',
      client_id: 'evil',
      prompt: 'none',
      returnTo: '/dashboard',
    });
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/auth/login/corp?${evil}`);
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${stack.url}/dashboard`);
    const authz = stack.op.authorizationRequests.at(-1)!;
    expect(authz.get('redirect_uri')).toBe(`${stack.url}/auth/callback/corp`);
    expect(authz.get('scope')).toBe('openid profile email roles');
    expect(authz.get('response_type')).toBe('code');
    expect(authz.get('client_id')).toBe(DEFAULT_CLIENT_ID);
    expect(authz.get('code_challenge_method')).toBe('S256');
    expect(authz.get('state')).not.toBe('attacker-state');
    expect(authz.get('nonce')).not.toBe('attacker-nonce');
    expect(authz.get('code_challenge')).not.toBe(evil.get('code_challenge'));
    for (const name of ['response_mode', 'prompt']) expect(authz.has(name)).toBe(false);
  });

  test('login_hint is passed on when short; over 256 characters or with control characters it is 400 LOGIN_HINT_INVALID', async () => {
    const browser = stack.browser();
    const hint = `${'a'.repeat(244)}@example.com`;
    expect(hint).toHaveLength(256);
    const ok = await browser.get(`${stack.url}/auth/login/corp?login_hint=${encodeURIComponent(hint)}`, json);
    expect(ok.status).toBe(302);
    expect(new URL(ok.location!).searchParams.get('login_hint')).toBe(hint);

    for (const bad of [`a${hint}`, 'alice@example.com\r\nX: y', 'x'.repeat(10_000)]) {
      const res = await browser.get(`${stack.url}/auth/login/corp?login_hint=${encodeURIComponent(bad)}`, json);
      expect({ status: res.status, body: res.json() }).toEqual({
        status: 400,
        body: { error: 'login_hint_invalid', code: 'LOGIN_HINT_INVALID', message: 'The login hint is not valid.' },
      });
    }
    const repeated = await browser.get(`${stack.url}/auth/login/corp?login_hint=a@b.example&login_hint=c@d.example`, json);
    expect({ status: repeated.status, body: repeated.json() }).toEqual({
      status: 400,
      body: { error: 'login_hint_invalid', code: 'LOGIN_HINT_INVALID', message: 'The login hint is not valid.' },
    });
  });
});
