import { createHmac, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { jest } from '@jest/globals';
import type { JWK } from 'jose';
import { FedgateError } from '../../../lib/errors.js';
import { generatePrivateJwk, loadKeySet } from '../../../lib/tokens/keys.js';
import type { KeySet, VerifyingKey } from '../../../lib/tokens/keys.js';
import { createTokenMinter } from '../../../lib/tokens/mint.js';
import { createAccessTokenVerifier } from '../../../lib/tokens/verify.js';

// Token confusion and header tricks against the local access-token verifier (RFC 8725 §2-3,
// RFC 9068 §4). Every case must end in TOKEN_INVALID / 401 with a fixed message.

const ISSUER = 'https://app.example.com/auth';
const AUDIENCE = 'https://api.example.com';
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const NOW_S = T0 / 1000;
const now = () => T0;
const noopLogger = { debug() {}, info() {}, warn() {}, error() {} };

let realJwk: JWK;
let attackerJwk: JWK;
let keySet: KeySet;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs any header/payload with an ES256 JWK, bypassing jose's own sanity checks. */
function signEs256(header: object, payload: object, jwk: JWK): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

function goodPayload(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, sub: 'corp|42', aud: AUDIENCE, exp: NOW_S + 300, iat: NOW_S, jti: 'j', client_id: 'fedgate', scope: 'a', ...extra };
}

function goodHeader(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: 'ES256', kid: realJwk.kid, typ: 'at+jwt', ...extra };
}

async function failure(promise: Promise<unknown>): Promise<FedgateError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof FedgateError) return err;
    throw new Error(`expected a FedgateError, got ${String(err)}`);
  }
  throw new Error('expected a FedgateError');
}

const verify = (token: unknown, extra: Partial<Parameters<typeof createAccessTokenVerifier>[0]> = {}) =>
  createAccessTokenVerifier({ keySet, issuer: ISSUER, audience: AUDIENCE, now, ...extra })(token as string);

async function expectRefused(token: unknown, message = 'Access token invalid', detail?: string): Promise<FedgateError> {
  const err = await failure(verify(token));
  expect([err.code, err.message, err.status]).toEqual(['TOKEN_INVALID', message, 401]);
  // `detail` (logs only) shows the refusal happened for the reason the case is about.
  if (detail !== undefined) expect(err.detail).toBe(detail);
  if (typeof token === 'string' && token.length > 0) {
    expect(JSON.stringify(err)).not.toContain(token);
    expect(String(err.detail)).not.toContain(token);
  }
  return err;
}

beforeAll(async () => {
  [realJwk, attackerJwk] = await Promise.all([generatePrivateJwk('ES256'), generatePrivateJwk('ES256')]);
  keySet = await loadKeySet({ keys: { keys: [realJwk] }, baseDir: '/', logger: noopLogger });
});

test('the crafting helper produces a token the verifier accepts (control)', async () => {
  await expect(verify(signEs256(goodHeader(), goodPayload(), realJwk))).resolves.toMatchObject({ sub: 'corp|42', scope: ['a'] });
  await expect(verify(signEs256(goodHeader({ typ: 'application/at+JWT' }), goodPayload(), realJwk))).resolves.toMatchObject({ sub: 'corp|42' });
});

test('an ID token is never accepted as an access token, even with the API audience', async () => {
  const minter = createTokenMinter({ keySet, issuer: ISSUER, audience: AUDIENCE, accessTokenTtl: 300, idTokenTtl: 300, now, clientId: AUDIENCE });
  const { token } = await minter.mintIdToken({ sub: 'corp|42', authTime: NOW_S, claims: { jti: 'x' } });
  await expectRefused(token, 'Access token invalid', 'typ is not at+jwt');
});

test.each([['JWT'], ['application/jwt'], ['jwt'], ['at+jwt+evil'], [undefined], [7]])('typ %p is refused', async (typ) => {
  await expectRefused(signEs256(goodHeader({ typ }), goodPayload(), realJwk), 'Access token invalid', 'typ is not at+jwt');
});

test('alg none: unsigned (empty signature) and with a fake signature', async () => {
  const unsigned = `${b64(goodHeader({ alg: 'none' }))}.${b64(goodPayload())}.`;
  await expectRefused(unsigned, 'Access token malformed', 'not a compact JWS');
  await expectRefused(`${unsigned}AAAA`, 'Access token invalid', 'alg does not match the key');
});

test('HS256 signed with the public key bytes (key confusion) is refused', async () => {
  const publicJwk = keySet.publicJwks.keys[0]!;
  const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  for (const secret of [JSON.stringify(publicJwk), String(pem)]) {
    const input = `${b64(goodHeader({ alg: 'HS256' }))}.${b64(goodPayload())}`;
    await expectRefused(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`, 'Access token invalid', 'alg does not match the key');
  }
});

test.each([
  ['wrong iss', { iss: 'https://evil.example' }, 'iss: check_failed'],
  ['wrong aud', { aud: 'https://other-api.example' }, 'aud: check_failed'],
  ['aud array without ours', { aud: ['x', 'y'] }, 'aud: check_failed'],
  ['sub not a string', { sub: 42 }, 'sub is not a string'],
  ['scope not a string', { scope: ['admin'] }, 'scope is not a string'],
  ['nbf in the future', { nbf: NOW_S + 3600 }, 'nbf: check_failed'],
  ['sid not a string', { sid: 1 }, 'sid is not a string'],
])('%s is refused', async (_name, extra, detail) => {
  await expectRefused(signEs256(goodHeader(), goodPayload(extra), realJwk), 'Access token invalid', detail);
});

test.each(['exp', 'iat', 'sub', 'jti', 'client_id', 'iss', 'aud'])('missing %s is refused', async (claim) => {
  const payload = goodPayload();
  delete payload[claim];
  await expectRefused(signEs256(goodHeader(), payload, realJwk), 'Access token invalid', `${claim}: missing`);
});

test('expired', async () => {
  await expectRefused(signEs256(goodHeader(), goodPayload({ exp: NOW_S - 10 }), realJwk), 'Access token expired', 'exp is in the past');
});

test('a tampered payload fails the signature', async () => {
  const [h, , s] = signEs256(goodHeader(), goodPayload(), realJwk).split('.');
  await expectRefused(`${h}.${b64(goodPayload({ scope: 'admin' }))}.${s}`, 'Access token invalid', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
});

test('unknown kid, or no kid: refused without any fetch', async () => {
  const fetchSpy = jest.spyOn(globalThis, 'fetch');
  for (const kid of [attackerJwk.kid, undefined, '__proto__', 'constructor', 42]) {
    await expectRefused(signEs256(goodHeader({ kid }), goodPayload(), attackerJwk), 'Access token invalid', 'unknown kid');
  }
  expect(fetchSpy).not.toHaveBeenCalled();
  fetchSpy.mockRestore();
});

test('a known kid with an attacker signature is refused', async () => {
  await expectRefused(signEs256(goodHeader(), goodPayload(), attackerJwk), 'Access token invalid', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
});

test('embedded jwk header carrying the attacker key is refused', async () => {
  const { d: _d, ...attackerPublic } = attackerJwk;
  await expectRefused(signEs256(goodHeader({ jwk: attackerPublic }), goodPayload(), attackerJwk), 'Access token invalid', 'forbidden "jwk" header');
  // Refused on sight even when the signature is ours: local tokens never carry these headers.
  await expectRefused(signEs256(goodHeader({ jwk: attackerPublic }), goodPayload(), realJwk), 'Access token invalid', 'forbidden "jwk" header');
});

test.each([
  ['jku', { jku: 'https://evil.example/jwks.json' }],
  ['x5u', { x5u: 'https://evil.example/cert.pem' }],
  ['x5c', { x5c: ['MIIB'] }],
  ['crit', { crit: ['exp'], exp: 1 }],
])('%s header is refused', async (name, extra) => {
  const fetchSpy = jest.spyOn(globalThis, 'fetch');
  await expectRefused(signEs256(goodHeader(extra), goodPayload(), realJwk), 'Access token invalid', `forbidden "${name}" header`);
  expect(fetchSpy).not.toHaveBeenCalled();
  fetchSpy.mockRestore();
});

test('an oversized token is refused before any key lookup or crypto', async () => {
  const lookups: string[] = [];
  const verifying = new Map(keySet.verifying);
  const spyingKeySet: KeySet = {
    ...keySet,
    verifying: {
      get: (kid: string): VerifyingKey | undefined => {
        lookups.push(kid);
        return verifying.get(kid);
      },
    } as ReadonlyMap<string, VerifyingKey>,
  };
  // Correctly signed, only too big.
  const big = signEs256(goodHeader(), goodPayload({ roles: Array.from({ length: 1000 }, (_, i) => `role-${i}`) }), realJwk);
  expect(big.length).toBeGreaterThan(8192);
  const err = await failure(createAccessTokenVerifier({ keySet: spyingKeySet, issuer: ISSUER, audience: AUDIENCE, now })(big));
  expect([err.code, err.message, err.status]).toEqual(['TOKEN_INVALID', 'Access token too large', 401]);
  expect(lookups).toEqual([]);
  // The same token passes under a larger cap, so size was the only reason.
  await expect(createAccessTokenVerifier({ keySet: spyingKeySet, issuer: ISSUER, audience: AUDIENCE, now, maxTokenBytes: 65536 })(big)).resolves.toBeDefined();
  expect(lookups).toEqual([realJwk.kid]);
});

test.each([[''], ['abc'], ['a.b'], ['a.b.c.d'], ['a..c'], ['.b.c'], ['a.b.c '], ['a.b.c\n'], ['é.b.c'], ['a+b/c.d.e']])('malformed %p', async (token) => {
  await expectRefused(token, 'Access token malformed');
});

test.each([
  ['header not JSON', `${b64('not json')}.${b64(goodPayload())}.AAAA`],
  ['header a JSON array', `${b64([1])}.${b64(goodPayload())}.AAAA`],
  ['header a JSON string', `${b64('"x"')}.${b64(goodPayload())}.AAAA`],
])('%s', async (_name, token) => {
  await expectRefused(token, 'Access token malformed');
});

test('payload not JSON (signed) is refused', async () => {
  const input = `${b64(goodHeader())}.${b64('not json')}`;
  const key = createPrivateKey({ key: realJwk as JsonWebKey, format: 'jwk' });
  await expectRefused(
    `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`,
    'Access token invalid',
    'ERR_JWT_INVALID',
  );
});

test.each([[undefined], [null], [42], [{ token: 'x' }], [['a', 'b', 'c']]])('non-string %p', async (token) => {
  await expectRefused(token);
});

test('iat in the future beyond the clock tolerance is refused; within the tolerance it is accepted', async () => {
  // A token "issued" later than now is forged or comes from a broken clock (RFC 7519 §4.1.6).
  await expectRefused(signEs256(goodHeader(), goodPayload({ iat: NOW_S + 60, exp: NOW_S + 360 }), realJwk), 'Access token invalid', 'iat: in the future');
  await expectRefused(signEs256(goodHeader(), goodPayload({ iat: NOW_S + 6, exp: NOW_S + 306 }), realJwk), 'Access token invalid', 'iat: in the future');
  const ok = await verify(signEs256(goodHeader(), goodPayload({ iat: NOW_S + 5, exp: NOW_S + 305 }), realJwk));
  expect(ok.sub).toBe('corp|42');
});
