import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { signWithSharedKey, DEFAULT_CLIENT_ID } from '../fixtures/op.js';
import { waitFor } from '../fixtures/ports.js';
import { CONFIDENTIAL_SECRET, discover, signIn, signedIn, startBrokerStack, type BrokerClientSpec, type BrokerStack } from './helpers.js';

const notified: BrokerClientSpec = { client_id: 'notified', client_secret: CONFIDENTIAL_SECRET, trusted: true, backchannel: true };
const silent: BrokerClientSpec = { client_id: 'silent', client_secret: CONFIDENTIAL_SECRET, trusted: true };

/** Verifies a logout token the client received, the way a client would: with fedgate's JWKS. */
async function verifyLogoutToken(stack: BrokerStack, token: string, clientId: string) {
  const jwks = createRemoteJWKSet(new URL(`${stack.url}/auth/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: `${stack.url}/auth`,
    audience: clientId,
    typ: 'logout+jwt',
    algorithms: ['ES256'],
  });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
  expect(payload).not.toHaveProperty('nonce');
  expect(typeof payload.jti).toBe('string');
  return payload;
}

async function nextLogoutToken(stack: BrokerStack, before: number): Promise<string> {
  return waitFor('a logout token at the client', () => stack.rp.logoutTokens.length > before && stack.rp.logoutTokens[before]);
}

describe('logout chain', () => {
  let stack: BrokerStack;
  beforeAll(async () => {
    stack = await startBrokerStack([notified, silent], { op: { backchannelLogout: true } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('upstream back-channel logout → fedgate session ends → the client receives a verifiable logout token', async () => {
    const config = await discover(stack, notified);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser);
    const sid = tokens.claims()!.sid;
    expect(typeof sid).toBe('string');
    const before = stack.rp.logoutTokens.length;

    const now = Math.floor(Date.now() / 1000);
    const upstreamToken = await signWithSharedKey(
      {
        iss: stack.op.issuer,
        aud: DEFAULT_CLIENT_ID,
        iat: now,
        exp: now + 120,
        jti: randomUUID(),
        sub: 'alice',
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      },
      { typ: 'logout+jwt' },
    );
    const res = await fetch(`${stack.url}/auth/backchannel-logout/corp`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: upstreamToken }),
    });
    expect(res.status).toBe(200);
    expect(await signedIn(stack, browser)).toBe(false);

    const received = await nextLogoutToken(stack, before);
    const payload = await verifyLogoutToken(stack, received, 'notified');
    expect(payload.sub).toBe('corp|alice');
    expect(payload.sid).toBe(sid);
    // The session's tokens ended with it.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('a local logout at /auth/logout notifies the client too; a client without a URI is simply signed out', async () => {
    const config = await discover(stack, notified);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser);
    await signIn(stack, await discover(stack, silent), browser);
    const before = stack.rp.logoutTokens.length;
    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect(out.status).toBe(302);
    const payload = await verifyLogoutToken(stack, await nextLogoutToken(stack, before), 'notified');
    expect(payload.sid).toBe(tokens.claims()!.sid);
    // Exactly one client had a back-channel URI.
    expect(stack.rp.logoutTokens.length).toBe(before + 1);
  });

  test('revokeSessions notifies the client', async () => {
    const config = await discover(stack, notified);
    await signIn(stack, config, stack.browser());
    const before = stack.rp.logoutTokens.length;
    expect(await stack.gateway.revokeSessions({ sub: 'corp|alice' })).toBeGreaterThanOrEqual(1);
    const payload = await verifyLogoutToken(stack, await nextLogoutToken(stack, before), 'notified');
    expect(payload.sub).toBe('corp|alice');
  });

  test('RP-initiated logout from the client ends the fedgate session and returns to the client', async () => {
    const config = await discover(stack, silent);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser);
    expect(await signedIn(stack, browser)).toBe(true);
    const state = oidc.randomState();
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${stack.rp.url}/bye`, state });
    const confirm = await browser.follow(url.href, { stopAt: (u) => u.origin === stack.rp.url });
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Sign out?');
    expect(confirm.body).toContain('App silent');
    expect(confirm.body).toContain('name="logout" value="yes"');
    const done = await browser.submitForm(confirm, { logout: 'yes' }, { stopAt: (u) => u.origin === stack.rp.url });
    expect(done.stoppedAt).toBe(`${stack.rp.url}/bye?state=${state}`);
    expect(done.setCookies.some((c) => c.startsWith('fedgate.sid=;'))).toBe(true);
    expect(await signedIn(stack, browser)).toBe(false);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('RP-initiated logout: "stay signed in" leaves the fedgate session alone', async () => {
    const config = await discover(stack, silent);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser);
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${stack.rp.url}/bye` });
    const confirm = await browser.follow(url.href);
    const done = await browser.submitForm(confirm, {}, { stopAt: (u) => u.origin === stack.rp.url });
    expect(done.stoppedAt).toBe(`${stack.rp.url}/bye`);
    expect(await signedIn(stack, browser)).toBe(true);
  });

  test('an unregistered post_logout_redirect_uri is refused', async () => {
    const config = await discover(stack, silent);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser);
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/bye' });
    const res = await browser.get(url.href);
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    expect(res.body).toContain('post_logout_redirect_uri not registered');
    expect(await signedIn(stack, browser)).toBe(true);
  });
});

describe('logout chain: expiry and upstream logout', () => {
  let stack: BrokerStack;
  beforeAll(async () => {
    stack = await startBrokerStack([notified], {
      config: (config) => {
        (config.session as Record<string, unknown>).idleTimeout = 2;
        (config.connectors as Array<Record<string, unknown>>)[0]!.logout = 'upstream';
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('a fedgate session that expires (idle timeout) notifies the client', async () => {
    const config = await discover(stack, notified);
    const tokens = await signIn(stack, config, stack.browser());
    const before = stack.rp.logoutTokens.length;
    // Nobody touches the session: Redis lets it expire and the sweeper finds it. Real time (a
    // short idle timeout, polled for): the key's TTL runs on Redis's clock, not the gateway's.
    const payload = await verifyLogoutToken(stack, await nextLogoutToken(stack, before), 'notified');
    expect(payload.sid).toBe(tokens.claims()!.sid);
  });

  test('RP-initiated logout continues at the upstream\'s logout when the connector says "upstream"', async () => {
    const config = await discover(stack, notified);
    const browser = stack.browser();
    const tokens = await signIn(stack, config, browser);
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${stack.rp.url}/bye` });
    const confirm = await browser.follow(url.href);
    const done = await browser.submitForm(confirm, { logout: 'yes' }, { stopAt: (u) => u.origin === stack.op.url });
    const upstream = new URL(done.stoppedAt!);
    expect(upstream.origin).toBe(stack.op.url);
    expect(upstream.pathname).toBe('/session/end');
    expect(decodeJwt(upstream.searchParams.get('id_token_hint')!).iss).toBe(stack.op.issuer);
    expect(await signedIn(stack, browser)).toBe(false);
  });
});
