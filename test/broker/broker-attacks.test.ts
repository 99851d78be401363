import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { CONFIDENTIAL_SECRET, authorize, discover, exchange, signIn, startBrokerStack, type BrokerClientSpec, type BrokerStack } from './helpers.js';

const confidential: BrokerClientSpec = { client_id: 'web', client_secret: CONFIDENTIAL_SECRET, trusted: true };
const publicClient: BrokerClientSpec = { client_id: 'spa', trusted: true };
const otherApi: BrokerClientSpec = { client_id: 'other-api', client_secret: CONFIDENTIAL_SECRET, trusted: true };

let stack: BrokerStack;
beforeAll(async () => {
  stack = await startBrokerStack([confidential, publicClient, otherApi], {
    config: (config) => {
      const clients = (config.op as { clients: Array<Record<string, unknown>> }).clients;
      clients.find((c) => c.client_id === 'other-api')!.audience = 'https://api.other.example';
    },
  });
});
afterAll(async () => {
  await stack?.close();
});

/** A browser already signed in at fedgate, so refusals are not mistaken for a missing login. */
async function signedInBrowser() {
  return stack.login();
}

describe('redirect URIs match exactly', () => {
  const variants = (cb: string): Array<[string, string]> => {
    const u = new URL(cb);
    return [
      ['a trailing slash', `${cb}/`],
      ['another port', `${u.protocol}//${u.hostname}:${Number(u.port) === 65535 ? 65534 : Number(u.port) + 1}${u.pathname}`],
      ['an extra path segment', `${cb}/extra`],
      ['an added query', `${cb}?next=/admin`],
      ['another host spelling', cb.replace('127.0.0.1', 'localhost')],
      ['an upper-case path', cb.replace('/cb', '/CB')],
      ['a fragment', `${cb}#x`],
    ];
  };

  test.each([0, 1, 2, 3, 4, 5, 6])('variant #%i is refused with an error page and no redirect', async (i) => {
    const [name, uri] = variants(stack.rp.callback)[i]!;
    const config = await discover(stack, confidential);
    const browser = await signedInBrowser();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: uri,
      scope: 'openid',
      state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const res = await browser.get(url.href);
    expect([name, res.status]).toEqual([name, 400]);
    expect(res.location).toBeUndefined();
    expect(res.body).toContain('invalid_redirect_uri');
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });

  test('the registered URI itself works (control)', async () => {
    const config = await discover(stack, confidential);
    const tokens = await signIn(stack, config, await signedInBrowser());
    expect(tokens.claims()!.sub).toBe('corp|alice');
  });
});

describe('PKCE', () => {
  test('a public client without a code_challenge is refused before any login', async () => {
    const config = await discover(stack, publicClient);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: stack.rp.callback, scope: 'openid', state: 's1' });
    const browser = stack.browser();
    const res = await browser.follow(url.href, { stopAt: (u) => u.origin === stack.rp.url });
    const back = new URL(res.stoppedAt!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toMatch(/PKCE/);
    expect(back.searchParams.get('code')).toBeNull();
    expect(res.chain.some((u) => u.startsWith(stack.op.url))).toBe(false);
  });

  test('code_challenge_method "plain" is refused', async () => {
    const config = await discover(stack, publicClient);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: stack.rp.callback,
      scope: 'openid',
      state: 's2',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    const res = await stack.browser().follow(url.href, { stopAt: (u) => u.origin === stack.rp.url });
    const back = new URL(res.stoppedAt!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('code')).toBeNull();
  });

  test('a public client with S256 signs in; a wrong or missing verifier at the token endpoint fails', async () => {
    const config = await discover(stack, publicClient);
    const attempt = await authorize(stack, config, await signedInBrowser());
    await expect(exchange(config, { ...attempt, verifier: oidc.randomPKCECodeVerifier() })).rejects.toMatchObject({ error: 'invalid_grant' });
    const again = await authorize(stack, config, await signedInBrowser());
    const code = new URL(again.result.stoppedAt!).searchParams.get('code')!;
    const res = await fetch(`${stack.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: stack.rp.callback, client_id: 'spa' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    const ok = await authorize(stack, config, await signedInBrowser());
    expect((await exchange(config, ok)).claims()!.aud).toBe('spa');
  });
});

describe('authorization codes and tokens', () => {
  test('a code works once; replaying it fails and revokes what it issued', async () => {
    const config = await discover(stack, confidential);
    const attempt = await authorize(stack, config, await signedInBrowser(), { scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await exchange(config, attempt);
    expect(tokens.refresh_token).toBeDefined();
    await expect(exchange(config, attempt)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('a code issued to one client cannot be redeemed by another, nor with a wrong secret', async () => {
    const web = await discover(stack, confidential);
    const attempt = await authorize(stack, web, await signedInBrowser());
    const other = await discover(stack, otherApi);
    await expect(exchange(other, attempt)).rejects.toMatchObject({ error: 'invalid_grant' });
    const wrongSecret = await discover(stack, { ...confidential, client_secret: 'not-the-secret-0123456789-abcdefghijklmnop' });
    const second = await authorize(stack, web, await signedInBrowser());
    await expect(exchange(wrongSecret, second)).rejects.toMatchObject({
      status: 401,
      cause: [expect.objectContaining({ scheme: 'basic', parameters: expect.objectContaining({ error: 'invalid_client' }) })],
    });
  });

  test("access tokens are audience-restricted: another API's token is refused by the app", async () => {
    const config = await discover(stack, otherApi);
    const tokens = await signIn(stack, config, await signedInBrowser(), { scope: 'openid email' });
    expect(decodeJwt(tokens.access_token).aud).toBe('https://api.other.example');
    const app = await fetch(`${stack.url}/dashboard`, { headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' } });
    expect(app.status).toBe(401);
    // It still works where it is meant to: fedgate's userinfo knows the client's audience.
    const info = await oidc.fetchUserInfo(config, tokens.access_token, 'corp|alice');
    expect(info.email).toBe('alice@example.com');
    // A requested resource other than the client's own is refused.
    const attempt = await authorize(stack, config, await signedInBrowser(), { resource: stack.url });
    expect(new URL(attempt.result.stoppedAt!).searchParams.get('error')).toBe('invalid_target');
  });

  test('an ID token is never an access token', async () => {
    const config = await discover(stack, confidential);
    const tokens = await signIn(stack, config, await signedInBrowser());
    const info = await fetch(`${stack.url}/auth/userinfo`, { headers: { authorization: `Bearer ${tokens.id_token!}` } });
    expect(info.status).toBe(401);
    const app = await fetch(`${stack.url}/dashboard`, { headers: { authorization: `Bearer ${tokens.id_token!}`, accept: 'application/json' } });
    expect(app.status).toBe(401);
  });

  test('implicit and hybrid response types are not offered', async () => {
    const config = await discover(stack, confidential);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: stack.rp.callback,
      scope: 'openid',
      response_type: 'id_token token',
      nonce: 'n',
      state: 's',
    });
    const res = await (await signedInBrowser()).follow(url.href, { stopAt: (u) => u.origin === stack.rp.url });
    const back = new URL(res.stoppedAt!);
    const params = new URLSearchParams(back.hash.slice(1) || back.search.slice(1));
    expect(params.get('error')).toBe('unsupported_response_type');
    expect(params.get('access_token')).toBeNull();
  });
});
