import { randomUUID } from 'node:crypto';
import { startStack, type Stack } from '../fixtures/stack.js';
import { signWithSharedKey, DEFAULT_CLIENT_ID } from '../fixtures/op.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ op: { backchannelLogout: true } });
});
afterAll(async () => {
  await stack?.close();
});

const event = { 'http://schemas.openid.net/event/backchannel-logout': {} };
const post = (token: string, connector = 'corp') =>
  fetch(`${stack.url}/auth/backchannel-logout/${connector}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  });
const dashboard = async (b: Awaited<ReturnType<Stack['login']>>) => (await b.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } })).status;

function logoutToken(claims: Record<string, unknown>, header: Record<string, unknown> = { typ: 'logout+jwt' }) {
  const now = Math.floor(Date.now() / 1000);
  return signWithSharedKey({ iss: stack.op.issuer, aud: DEFAULT_CLIENT_ID, iat: now, exp: now + 120, jti: randomUUID(), events: event, ...claims }, header);
}

describe('back-channel logout', () => {
  test('a valid logout_token for the upstream sub ends every session of that user at that connector', async () => {
    const a = await stack.login();
    const b = await stack.login();
    expect(await dashboard(a)).toBe(200);
    const res = await post(await logoutToken({ sub: 'alice' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await dashboard(a)).toBe(401);
    expect(await dashboard(b)).toBe(401);
  });

  test.each([
    ['wrong audience', { aud: 'someone-else' }, {}],
    ['wrong issuer', { iss: 'http://127.0.0.1:1/evil' }, {}],
    ['missing events', { events: undefined }, {}],
    ['a nonce', { nonce: 'n' }, {}],
    ['neither sid nor sub', { sub: undefined }, {}],
    ['an access-token typ', {}, { typ: 'at+jwt' }],
    ['an unknown typ', {}, { typ: 'secevent+jwt' }],
    ['a stale iat', { iat: Math.floor(Date.now() / 1000) - 3600 }, {}],
  ])('a token with %s is refused with 400 and changes nothing', async (_n, claims, header) => {
    const a = await stack.login();
    const res = await post(await logoutToken({ sub: 'alice', ...claims }, { typ: 'logout+jwt', ...header }));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', code: 'LOGOUT_TOKEN_INVALID', message: 'The logout token is invalid.' });
    expect(await dashboard(a)).toBe(200);
  });

  test('alg none, garbage and a replayed jti are refused', async () => {
    const a = await stack.login();
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'alice' })).toString('base64url')}.`;
    expect((await post(none)).status).toBe(400);
    expect((await post('garbage')).status).toBe(400);
    const token = await logoutToken({ sub: 'nobody' });
    expect((await post(token)).status).toBe(200);
    expect((await post(token)).status).toBe(400);
    expect(await dashboard(a)).toBe(200);
  });
});

describe('revokeSessions', () => {
  test('ends every session of a local subject', async () => {
    const a = await stack.login();
    const b = await stack.login();
    expect(await stack.gateway.revokeSessions({ sub: 'corp|alice' })).toBeGreaterThanOrEqual(2);
    expect(await dashboard(a)).toBe(401);
    expect(await dashboard(b)).toBe(401);
  });
});
