import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  CONFIDENTIAL_SECRET,
  authorize,
  decide,
  discover,
  exchange,
  signIn,
  signedIn,
  startBrokerStack,
  type BrokerClientSpec,
  type BrokerStack,
} from './helpers.js';

const trusted: BrokerClientSpec = { client_id: 'first-party', client_secret: CONFIDENTIAL_SECRET, trusted: true };
const untrusted: BrokerClientSpec = {
  client_id: 'third-party',
  client_secret: CONFIDENTIAL_SECRET,
  scopes: ['openid', 'profile', 'email', 'team', 'offline_access', 'reports:read'],
};
const spa: BrokerClientSpec = { client_id: 'spa' };

let stack: BrokerStack;
beforeAll(async () => {
  stack = await startBrokerStack([trusted, untrusted, spa], {
    op: { accounts: { bob: { email: 'bob@example.com', email_verified: true, name: 'Bob Example', roles: [] } } },
  });
});
afterAll(async () => {
  await stack?.close();
});

describe('discovery', () => {
  test("one issuer: the provider metadata at /auth, with fedgate's JWKS and userinfo routes", async () => {
    const res = await fetch(`${stack.url}/auth/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: `${stack.url}/auth`,
      authorization_endpoint: `${stack.url}/auth/authorize`,
      token_endpoint: `${stack.url}/auth/token`,
      jwks_uri: `${stack.url}/auth/jwks.json`,
      userinfo_endpoint: `${stack.url}/auth/userinfo`,
      end_session_endpoint: `${stack.url}/auth/end-session`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      backchannel_logout_supported: true,
    });
    expect(doc.id_token_signing_alg_values_supported).toEqual(['ES256']);
    for (const [name, value] of Object.entries(doc)) {
      if (name.endsWith('alg_values_supported')) expect(value).not.toContain('none');
    }
    // The JWKS there is the local one: the same keys sign the app's tokens and the clients'.
    const jwks = (await (await fetch(`${stack.url}/auth/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });
});

describe('trusted client', () => {
  test("signs in through the upstream without a consent page; tokens come from fedgate's key", async () => {
    const config = await discover(stack, trusted);
    const browser = stack.browser();
    const attempt = await authorize(stack, config, browser);
    expect(attempt.result.stoppedAt).toBeDefined();
    expect(attempt.result.chain.some((u) => u.startsWith(stack.op.url))).toBe(true);
    expect(attempt.result.chain.some((u) => u.includes('/auth/interaction/'))).toBe(true);
    const tokens = await exchange(config, attempt);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: `${stack.url}/auth`,
      sub: 'corp|alice',
      aud: 'first-party',
      email: 'alice@example.com',
      name: 'Alice Example',
      nonce: attempt.nonce,
    });
    const jwks = (await (await fetch(`${stack.url}/auth/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(decodeProtectedHeader(tokens.id_token!).kid).toBe(jwks.keys[0]!.kid);
    // RFC 9068 access token for the app's API (tokens.audience), signed by the same key.
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256', kid: jwks.keys[0]!.kid });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      iss: `${stack.url}/auth`,
      aud: stack.url,
      sub: 'corp|alice',
      client_id: 'first-party',
      scope: 'openid profile email',
    });
    // The user now has a fedgate session at the app too.
    expect(await signedIn(stack, browser)).toBe(true);
  });
});

describe('sessions', () => {
  test("the provider never signs in someone other than the fedgate session's user", async () => {
    const config = await discover(stack, trusted);
    const browser = stack.browser();
    expect((await signIn(stack, config, browser)).claims()!.sub).toBe('corp|alice');
    // Bob signs in at the app in the same browser (the upstream session is gone, so he logs in there).
    for (const c of browser.cookies.all(stack.op.url)) browser.cookies.delete(stack.op.url, c.name);
    stack.op.nextLogin = 'bob';
    try {
      const res = await browser.follow(`${stack.url}/auth/login?returnTo=%2Fdashboard`);
      expect(res.json()).toMatchObject({ sub: 'corp|bob' });
    } finally {
      stack.op.nextLogin = 'alice';
    }
    // Bob's login ended Alice's fedgate session, and the logout chain ended her provider session
    // with it: no provider session says Alice any more, so Bob's code comes back directly (no
    // end-session step), and it is Bob's.
    const attempt = await authorize(stack, config, browser, { scope: 'openid email' });
    expect(attempt.result.body).not.toContain('Submitting Callback');
    const tokens = await exchange(config, attempt);
    expect(tokens.claims()).toMatchObject({ sub: 'corp|bob', email: 'bob@example.com' });
    expect(await signedIn(stack, browser)).toBe(true);
    expect(attempt.result.chain.some((u) => u.startsWith(stack.op.url))).toBe(false);
  });

  test('prompt=none without a fedgate session answers login_required', async () => {
    const config = await discover(stack, trusted);
    const attempt = await authorize(stack, config, stack.browser(), { prompt: 'none' });
    const back = new URL(attempt.result.stoppedAt!);
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(attempt.result.chain.some((u) => u.startsWith(stack.op.url))).toBe(false);
  });
});

describe('untrusted client: consent', () => {
  test('the consent page lists the client and what it asks for; approving sends the code back', async () => {
    const config = await discover(stack, untrusted);
    const browser = stack.browser();
    const attempt = await authorize(stack, config, browser, { scope: 'openid email team' });
    expect(attempt.result.stoppedAt).toBeUndefined();
    expect(attempt.result.status).toBe(200);
    expect(attempt.result.url).toMatch(new RegExp(`^${stack.url}/auth/interaction/[^/]+$`));
    const body = attempt.result.body;
    expect(body).toContain('<html lang="en">');
    expect(body).toContain('App third-party');
    expect(body).toContain('Your e-mail address');
    expect(body).toContain('<code>roles</code>');
    expect(body).toMatch(/<input type="hidden" name="form_token" value="[A-Za-z0-9_-]{43}">/);
    expect(body).toContain('name="decision" value="approve"');
    expect(body).toContain('name="decision" value="deny"');
    expect(attempt.result.headers.get('cache-control')).toBe('no-store');
    expect(attempt.result.headers.get('content-security-policy')).toContain(`form-action 'self' ${stack.rp.url}`);

    const approved = await decide(stack, browser, attempt, 'approve');
    const tokens = await exchange(config, approved);
    expect(tokens.claims()).toMatchObject({ sub: 'corp|alice', aud: 'third-party', email: 'alice@example.com', roles: ['analyst'] });
    expect(tokens.claims()).not.toHaveProperty('name');
  });

  test('denying sends access_denied to the client and issues nothing', async () => {
    const config = await discover(stack, untrusted);
    const browser = stack.browser();
    const attempt = await authorize(stack, config, browser, { scope: 'openid profile' });
    expect(attempt.result.status).toBe(200);
    const denied = await decide(stack, browser, attempt, 'deny');
    const back = new URL(denied.result.stoppedAt!);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(attempt.state);
    expect(back.searchParams.get('code')).toBeNull();
    await expect(exchange(config, denied)).rejects.toMatchObject({ error: 'access_denied' });
  });

  test('a consent form without its token, with a wrong one, or from another site is refused', async () => {
    const config = await discover(stack, untrusted);
    const browser = stack.browser();
    const attempt = await authorize(stack, config, browser, { scope: 'openid profile' });
    const page = attempt.result;
    const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      browser.post(page.url, fields, { headers: { accept: 'application/json', ...headers } });
    const wrong = await post({ form_token: 'x'.repeat(43), decision: 'approve' });
    expect(wrong.status).toBe(403);
    expect(wrong.json()).toEqual({
      error: 'form_token_invalid',
      code: 'FORM_TOKEN_INVALID',
      message: 'The form expired or did not come from this site; return to the application and start again.',
    });
    // The token is single use: the failed attempt above consumed it.
    const token = /name="form_token" value="([^"]+)"/.exec(page.body)![1]!;
    expect((await post({ form_token: token, decision: 'approve' })).status).toBe(403);
    const fresh = await authorize(stack, config, browser, { scope: 'openid profile' });
    const freshToken = /name="form_token" value="([^"]+)"/.exec(fresh.result.body)![1]!;
    const cross = await browser.post(
      fresh.result.url,
      { form_token: freshToken, decision: 'approve' },
      { headers: { accept: 'application/json', origin: 'https://evil.example' } },
    );
    expect(cross.status).toBe(403);
    expect(cross.json()).toMatchObject({ code: 'FORM_TOKEN_INVALID' });
    // Another browser (no interaction cookie) cannot use the step at all.
    const other = stack.browser();
    const stranger = await other.post(fresh.result.url, { form_token: freshToken, decision: 'approve' }, { headers: { accept: 'application/json' } });
    expect(stranger.status).toBe(400);
    expect(stranger.json()).toEqual({
      error: 'interaction_invalid',
      code: 'INTERACTION_INVALID',
      message: 'This sign-in step has expired or is not valid here; return to the application and start again.',
    });
  });

  test('scopes granted before skip the consent page, across sessions; a new scope brings it back for that scope only', async () => {
    const config = await discover(stack, untrusted);
    const first = stack.browser();
    const attempt = await authorize(stack, config, first, { scope: 'openid profile' });
    await exchange(config, await decide(stack, first, attempt, 'approve'));
    // Same session: straight back to the client.
    const again = await authorize(stack, config, first, { scope: 'openid profile' });
    expect(again.result.stoppedAt).toBeDefined();
    await exchange(config, again);
    // A new browser (new fedgate session, new upstream login): the consent is remembered.
    const second = stack.browser();
    const later = await authorize(stack, config, second, { scope: 'openid profile' });
    expect(later.result.stoppedAt).toBeDefined();
    expect((await exchange(config, later)).claims()).toMatchObject({ name: 'Alice Example' });
    // Asking for more: the page lists only what is new.
    const more = await authorize(stack, config, second, { scope: 'openid profile offline_access', prompt: 'consent' });
    expect(more.result.status).toBe(200);
    expect(more.result.body).toContain('Stay connected while you are away');
    expect(more.result.body).not.toContain('Your profile');
  });
});

describe('claims follow the granted scopes', () => {
  test.each([
    ['openid', {}, ['name', 'email', 'roles']],
    ['openid email', { email: 'alice@example.com', email_verified: true }, ['name', 'roles']],
    ['openid profile', { name: 'Alice Example', given_name: 'Alice', family_name: 'Example' }, ['email', 'roles']],
    ['openid team', { roles: ['analyst'] }, ['name', 'email']],
  ])('scope "%s" in the ID token and at userinfo', async (scope, present, absent) => {
    const config = await discover(stack, untrusted);
    const browser = stack.browser();
    let attempt = await authorize(stack, config, browser, { scope, prompt: 'consent' });
    if (!attempt.result.stoppedAt) attempt = await decide(stack, browser, attempt, 'approve');
    const tokens = await exchange(config, attempt);
    const idClaims = tokens.claims()!;
    expect(idClaims).toMatchObject({ sub: 'corp|alice', ...present });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, 'corp|alice');
    expect(info).toEqual({ sub: 'corp|alice', ...present });
    for (const name of absent) {
      expect(idClaims).not.toHaveProperty(name);
      expect(info).not.toHaveProperty(name);
    }
    // Upstream-only claims (preferred_username is not a local claim) never leak.
    expect(info).not.toHaveProperty('preferred_username');
  });

  test("local scopes the user holds become access-token scopes the app's own API accepts", async () => {
    const config = await discover(stack, untrusted);
    const browser = stack.browser();
    let attempt = await authorize(stack, config, browser, { scope: 'openid reports:read' });
    if (!attempt.result.stoppedAt) attempt = await decide(stack, browser, attempt, 'approve');
    const tokens = await exchange(config, attempt);
    expect(decodeJwt(tokens.access_token).scope).toBe('openid reports:read');
    expect(tokens.scope).toBe('openid reports:read');
    const api = await fetch(`${stack.url}/api/reports`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(api.status).toBe(200);
    expect(await api.json()).toEqual({ ok: true, sub: 'corp|alice' });
  });

  test('userinfo precedence: a broker token is answered by the broker; the session and local tokens keep the local route', async () => {
    const config = await discover(stack, trusted);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser, { scope: 'openid email' });
    const broker = await fetch(`${stack.url}/auth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await broker.json()).toEqual({ sub: 'corp|alice', email: 'alice@example.com', email_verified: true });
    const session = await browser.get(`${stack.url}/auth/userinfo`, { headers: { accept: 'application/json' } });
    expect(session.status).toBe(200);
    expect(session.json()).toMatchObject({ sub: 'corp|alice', name: 'Alice Example', email: 'alice@example.com', roles: ['analyst'] });
    const garbage = await fetch(`${stack.url}/auth/userinfo`, { headers: { authorization: 'Bearer a.b.c' } });
    expect(garbage.status).toBe(401);
  });
});

describe('withdrawal at /auth/consents', () => {
  test('lists the client, withdraws the grant, revokes its tokens and brings the consent page back', async () => {
    const config = await discover(stack, untrusted);
    const browser = stack.browser();
    let attempt = await authorize(stack, config, browser, { scope: 'openid email offline_access', prompt: 'consent' });
    attempt = await decide(stack, browser, attempt, 'approve');
    const tokens = await exchange(config, attempt);
    expect(tokens.refresh_token).toBeDefined();
    expect((await oidc.fetchUserInfo(config, tokens.access_token, 'corp|alice')).email).toBe('alice@example.com');

    const listed = await browser.get(`${stack.url}/auth/consents`, { headers: { accept: 'application/json' } });
    expect(listed.status).toBe(200);
    const consents = listed.json<{ consents: Array<{ client_id: string; client_name: string; scopes: string[] }> }>().consents;
    expect(consents.find((c) => c.client_id === 'third-party')).toMatchObject({ client_name: 'App third-party' });
    expect(consents.find((c) => c.client_id === 'third-party')!.scopes).toEqual(expect.arrayContaining(['openid', 'email', 'offline_access']));

    const pageRes = await browser.get(`${stack.url}/auth/consents`);
    expect(pageRes.status).toBe(200);
    expect(pageRes.body).toContain('Applications you allowed');
    const withdrawn = await browser.submitForm(pageRes, { client_id: 'third-party' });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.chain.at(-1)).toBe(`${stack.url}/auth/consents`);
    expect(withdrawn.body).not.toContain('App third-party');

    // The access token no longer works at userinfo; the refresh token is gone.
    const info = await fetch(`${stack.url}/auth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(info.status).toBe(401);
    expect(await info.json()).toMatchObject({ error: 'invalid_token', code: 'TOKEN_INVALID' });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The next authorization asks again.
    const next = await authorize(stack, config, browser, { scope: 'openid email' });
    expect(next.result.status).toBe(200);
    expect(next.result.body).toContain('Your e-mail address');
  });

  test('requires a session; a post without the session-bound form token is refused', async () => {
    const anonymousList = await fetch(`${stack.url}/auth/consents`, { headers: { accept: 'application/json' } });
    expect(anonymousList.status).toBe(401);
    const anonymousPage = await stack.browser().get(`${stack.url}/auth/consents`);
    expect(anonymousPage.status).toBe(302);
    expect(anonymousPage.location).toBe(`${stack.url}/auth/login?returnTo=%2Fauth%2Fconsents`);
    const browser = await stack.login();
    const res = await browser.post(
      `${stack.url}/auth/consents`,
      { client_id: 'third-party', form_token: 'forged' },
      { headers: { accept: 'application/json' } },
    );
    expect(res.status).toBe(403);
    expect(res.json()).toEqual({ error: 'form_token_invalid', code: 'FORM_TOKEN_INVALID', message: 'The form expired or did not come from this site.' });
  });
});

describe('refresh tokens', () => {
  test('rotate on every use; reusing an old one fails and revokes the family', async () => {
    const config = await discover(stack, trusted);
    const tokens = await signIn(stack, config, stack.browser(), { scope: 'openid profile offline_access', prompt: 'consent' });
    const first = tokens.refresh_token!;
    expect(first).toBeDefined();
    const rotated = await oidc.refreshTokenGrant(config, first);
    expect(rotated.refresh_token).toBeDefined();
    expect(rotated.refresh_token).not.toBe(first);
    expect(rotated.claims()).toMatchObject({ sub: 'corp|alice', name: 'Alice Example' });
    expect(decodeJwt(rotated.access_token)).toMatchObject({ client_id: 'first-party', sub: 'corp|alice' });
    // Reuse of the old one: refused, and the new one dies with it (theft detection).
    await expect(oidc.refreshTokenGrant(config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('without offline_access the refresh token lives only as long as the fedgate session', async () => {
    const config = await discover(stack, trusted);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser, { scope: 'openid' });
    expect(tokens.refresh_token).toBeDefined();
    await oidc.refreshTokenGrant(config, tokens.refresh_token!).then((t) => expect(t.access_token).toBeDefined());
    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect(out.status).toBe(302);
    const { waitFor } = await import('../fixtures/ports.js');
    await waitFor('refresh token revoked', async () => {
      try {
        await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        return false;
      } catch (err) {
        return (err as { error?: string }).error === 'invalid_grant';
      }
    });
  });
});

describe('other endpoints', () => {
  test('pushed authorization requests (RFC 9126) work', async () => {
    const config = await discover(stack, trusted);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: stack.rp.callback,
      scope: 'openid email',
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const result = await stack.browser().follow(url.href, { maxRedirects: 20, stopAt: (u) => u.origin === stack.rp.url });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(result.stoppedAt!), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ sub: 'corp|alice', email: 'alice@example.com' });
  });

  test('a client revokes its refresh token (RFC 7009)', async () => {
    const config = await discover(stack, trusted);
    const tokens = await signIn(stack, config, stack.browser());
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('storage', () => {
  test("every key fedgate wrote to Redis, the provider's included, has a TTL", async () => {
    const client = stack.redis.client();
    try {
      await signIn(stack, await discover(stack, trusted), stack.browser(), { scope: 'openid offline_access', prompt: 'consent' });
      const keys = await client.keys('*');
      expect(keys.some((k) => k.startsWith('fedgate:op:Grant:'))).toBe(true);
      expect(keys.some((k) => k.startsWith('fedgate:op:Session:'))).toBe(true);
      expect(keys.some((k) => k.startsWith('fedgate:op:RefreshToken:'))).toBe(true);
      expect(keys).toContain('fedgate:op:sweep');
      expect(keys.some((k) => k.startsWith('fedgate:op:acct:'))).toBe(true);
      const ttls = await Promise.all(keys.map(async (k) => [k, await client.ttl(k)] as const));
      expect(ttls.filter(([, ttl]) => ttl < 0)).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});
