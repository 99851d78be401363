/**
 * A client revoking its own tokens (RFC 7009), as Apache's mod_auth_openidc does at every logout:
 * that client's tokens end, the user's consent stays. Consent is withdrawn only by the user
 * (/auth/consents) or the operator.
 */
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { waitFor } from '../fixtures/ports.js';
import {
  CONFIDENTIAL_SECRET,
  authorize,
  decide,
  discover,
  exchange,
  revokeAndLogOut,
  signedIn,
  startBrokerStack,
  type BrokerClientSpec,
  type BrokerStack,
} from './helpers.js';
import { recordSecret } from '../fixtures/secret-scan.js';

const untrusted: BrokerClientSpec = {
  client_id: 'revoker',
  client_secret: CONFIDENTIAL_SECRET,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  backchannel: true,
};
const other: BrokerClientSpec = { client_id: 'other', client_secret: CONFIDENTIAL_SECRET, scopes: ['openid', 'email', 'offline_access'] };

let stack: BrokerStack;
beforeAll(async () => {
  stack = await startBrokerStack([untrusted, other]);
});
afterAll(async () => {
  await stack?.close();
});

async function consentedTokens(client: BrokerClientSpec) {
  const config = await discover(stack, client);
  const browser = stack.browser();
  const attempt = await authorize(stack, config, browser, { scope: 'openid email offline_access', prompt: 'consent' });
  expect(attempt.result.status).toBe(200);
  const tokens = await exchange(config, await decide(stack, browser, attempt, 'approve'));
  recordSecret(tokens.access_token);
  recordSecret(tokens.refresh_token);
  return { config, browser, tokens };
}

const userinfoStatus = async (token: string) => (await fetch(`${stack.url}/auth/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;

test("revoking a refresh token ends the client's tokens but keeps the consent: the next login asks nothing", async () => {
  const { config, browser, tokens } = await consentedTokens(untrusted);
  const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  recordSecret(rotated.refresh_token);
  expect(await userinfoStatus(rotated.access_token)).toBe(200);

  await oidc.tokenRevocation(config, rotated.refresh_token!, { token_type_hint: 'refresh_token' });

  await expect(oidc.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  // RFC 7009 §2.1: the access tokens of the same grant end too (fedgate's userinfo refuses them).
  expect(await userinfoStatus(rotated.access_token)).toBe(401);
  expect(await userinfoStatus(tokens.access_token)).toBe(401);

  // The consent is still listed and the next authorization goes straight back to the client.
  const listed = await browser.get(`${stack.url}/auth/consents`, { headers: { accept: 'application/json' } });
  expect(listed.json<{ consents: Array<{ client_id: string }> }>().consents.map((c) => c.client_id)).toContain('revoker');
  const again = await authorize(stack, config, browser, { scope: 'openid email' });
  expect(again.result.stoppedAt).toBeDefined();
  const fresh = await exchange(config, again);
  expect(await userinfoStatus(fresh.access_token)).toBe(200);
});

test("a client cannot revoke another client's token, and its own revocation leaves the other client alone", async () => {
  const mine = await consentedTokens(untrusted);
  const theirs = await consentedTokens(other);
  // Revoking someone else's token is silently ignored (RFC 7009 §2.2: 200 either way).
  await oidc.tokenRevocation(mine.config, theirs.tokens.refresh_token!);
  const still = await oidc.refreshTokenGrant(theirs.config, theirs.tokens.refresh_token!);
  recordSecret(still.refresh_token);
  await oidc.tokenRevocation(mine.config, mine.tokens.refresh_token!);
  expect(await userinfoStatus(still.access_token)).toBe(200);
  await oidc.refreshTokenGrant(theirs.config, still.refresh_token!).then((t) => recordSecret(t.refresh_token));
});

test('withdrawal by the user still ends the consent after a client revoked', async () => {
  const { config, browser, tokens } = await consentedTokens(untrusted);
  await oidc.tokenRevocation(config, tokens.refresh_token!);
  const pageRes = await browser.get(`${stack.url}/auth/consents`);
  const withdrawn = await browser.submitForm(pageRes, { client_id: 'revoker' });
  expect(withdrawn.status).toBe(200);
  const next = await authorize(stack, config, browser, { scope: 'openid email' });
  expect(next.result.status).toBe(200);
  expect(next.result.body).toContain('name="decision" value="approve"');
});

test('a JWT access token cannot be revoked at /auth/revoke: unsupported_token_type (documented)', async () => {
  const { config, tokens } = await consentedTokens(untrusted);
  await expect(oidc.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' })).rejects.toMatchObject({
    error: 'unsupported_token_type',
  });
  // It keeps working at userinfo until it expires or its grant's refresh token is revoked.
  expect(await userinfoStatus(tokens.access_token)).toBe(200);
});

test('a client that revokes and then logs the user out (as mod_auth_openidc does): signed out, consent kept', async () => {
  const { config, browser, tokens } = await consentedTokens(untrusted);
  const before = stack.rp.logoutTokens.length;
  expect(await revokeAndLogOut(stack, config, browser, tokens)).toBe(`${stack.rp.url}/bye`);
  expect(await signedIn(stack, browser)).toBe(false);
  // The back-channel logout still reaches the client whose tokens are already revoked.
  const token = await waitFor('a logout token at the client', () => stack.rp.logoutTokens.length > before && stack.rp.logoutTokens[before]);
  expect(decodeJwt(token)).toMatchObject({ aud: 'revoker', sub: 'corp|alice' });
  await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  // Signing in again (upstream login, no consent page) goes straight back to the client.
  const again = await authorize(stack, config, browser, { scope: 'openid email' });
  expect(again.result.stoppedAt).toBeDefined();
  expect(again.result.chain.some((u) => u.startsWith(stack.op.url))).toBe(true);
  await exchange(config, again);
});
