import { createHash, randomUUID } from 'node:crypto';
import * as jose from 'jose';
import { FedgateError } from '../../../lib/errors.js';
import { createMemoryKv } from '../../../lib/redis/kv.js';
import { accessTokenHash, checkDpopBinding, dpopChallenge, proofLeeway, proofMaxAge, verifyDpopProof } from '../../../lib/tokens/dpop.js';

// The proof checks of lib/tokens/dpop.ts against an injected clock and the in-memory KvStore
// (development mode); the HTTP behaviour with Redis is in test/broker/dpop.test.ts.

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const NOW_S = T0 / 1000;
const URL_ = 'https://app.example.com/api/reports';
const TOKEN = 'header.payload.signature';

let clock = T0;
const now = () => clock;
let kv = createMemoryKv(now);
const remember = (key: string, ttl: number) => kv.setIfAbsent(key, '1', ttl);

let es: jose.GenerateKeyPairResult;
beforeAll(async () => {
  es = await jose.generateKeyPair('ES256', { extractable: true });
});
beforeEach(() => {
  clock = T0;
  kv = createMemoryKv(now);
});

async function proof(
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  keys: jose.GenerateKeyPairResult = es,
  alg = 'ES256',
): Promise<string> {
  return new jose.SignJWT({ htm: 'GET', htu: URL_, jti: randomUUID(), iat: NOW_S, ath: accessTokenHash(TOKEN), ...claims })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: await jose.exportJWK(keys.publicKey), ...header })
    .sign(keys.privateKey);
}

const check = (header: string | string[] | undefined, extra: { method?: string; url?: string } = {}) =>
  verifyDpopProof({ header, method: extra.method ?? 'GET', url: extra.url ?? URL_, now, remember });

async function refused(promise: Promise<unknown>, detail: string): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(FedgateError);
  const e = error as FedgateError;
  expect([e.code, e.message, e.status, e.detail]).toEqual(['DPOP_PROOF_INVALID', 'DPoP proof invalid', 401, detail]);
}

test('a valid proof yields the key thumbprint and ath; binding to the right token and key passes', async () => {
  const p = await check(await proof());
  expect(p.jkt).toBe(await jose.calculateJwkThumbprint(await jose.exportJWK(es.publicKey)));
  expect(p.ath).toBe(createHash('sha256').update(TOKEN).digest('base64url'));
  expect(() => checkDpopBinding(p, TOKEN, { cnf: { jkt: p.jkt } })).not.toThrow();
});

test('iat window: up to proofMaxAge old and proofLeeway ahead, inclusive', async () => {
  await check(await proof({ iat: NOW_S - proofMaxAge }));
  await check(await proof({ iat: NOW_S + proofLeeway }));
  await refused(check(await proof({ iat: NOW_S - proofMaxAge - 1 })), 'iat too old');
  await refused(check(await proof({ iat: NOW_S + proofLeeway + 1 })), 'iat in the future');
  await refused(check(await proof({ iat: 'yesterday' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  await refused(check(await proof({ iat: undefined })), 'iat missing');
});

test('a jti is single use per key, for longer than a proof stays acceptable', async () => {
  const jti = randomUUID();
  await check(await proof({ jti }));
  await refused(check(await proof({ jti })), 'jti replayed');
  // Still remembered at the end of the window.
  clock = T0 + (proofMaxAge + proofLeeway) * 1000;
  await refused(check(await proof({ jti, iat: NOW_S + proofMaxAge })), 'jti replayed');
  // Another key may use the same jti value: the guard is per key.
  const other = await jose.generateKeyPair('ES256', { extractable: true });
  await check(await proof({ jti, iat: NOW_S + proofMaxAge }, {}, other));
});

test('htm and htu: method and URL of this request; query, fragment and default port do not matter', async () => {
  await check(await proof({ htu: 'https://APP.example.com:443/api/reports?x=1#f' }));
  await check(await proof({ htu: URL_ }), { url: `${URL_}?page=2` });
  await refused(check(await proof({ htm: 'POST' })), 'htm does not match the request method');
  await refused(check(await proof({ htu: 'https://app.example.com/api/other' })), 'htu does not match the request URL');
  await refused(check(await proof({ htu: 'http://app.example.com/api/reports' })), 'htu does not match the request URL');
  await refused(check(await proof({ htu: 'javascript:alert(1)' })), 'htu does not match the request URL');
  await refused(check(await proof({ htu: 42 })), 'htu does not match the request URL');
});

test('header: typ, asymmetric alg from the list, a public jwk', async () => {
  await refused(check(await proof({}, { typ: 'JWT' })), 'typ is not dpop+jwt');
  const rsa = await jose.generateKeyPair('RS256', { extractable: true });
  await refused(check(await proof({}, {}, rsa, 'RS256')), 'alg not allowed');
  const ps = await jose.generateKeyPair('PS256', { extractable: true });
  await check(await proof({}, {}, ps, 'PS256'));
  const ed = await jose.generateKeyPair('Ed25519', { extractable: true });
  await check(await proof({}, {}, ed, 'Ed25519'));
  await refused(check(await proof({}, { jwk: await jose.exportJWK(es.privateKey) })), 'jwk header carries private key material');
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: await jose.exportJWK(es.publicKey) })).toString('base64url')}.${Buffer.from(JSON.stringify({ htm: 'GET', htu: URL_, jti: 'x', iat: NOW_S })).toString('base64url')}.`;
  await refused(check(unsigned), 'not a compact JWS');
});

test('the header itself: absent, repeated, oversized, not a JWS', async () => {
  await refused(check(undefined), 'no DPoP header');
  await refused(check(''), 'no DPoP header');
  await refused(check([await proof(), await proof()]), 'more than one DPoP header');
  await refused(check(`${await proof()}, ${await proof()}`), 'more than one DPoP header');
  await refused(check(`${await proof({ pad: 'x'.repeat(5000) })}`), 'proof too large');
  await refused(check('a.b'), 'not a compact JWS');
});

test('binding: ath of another token, a token bound to another key, an unbound token', async () => {
  const p = await check(await proof());
  expect(() => checkDpopBinding(p, 'another.token.value', { cnf: { jkt: p.jkt } })).toThrow(
    expect.objectContaining({ code: 'DPOP_PROOF_INVALID', detail: 'ath does not match the access token' }),
  );
  expect(() => checkDpopBinding(p, TOKEN, { cnf: { jkt: 'someone-else' } })).toThrow(
    expect.objectContaining({ code: 'DPOP_BINDING_INVALID', message: 'DPoP key does not match the access token' }),
  );
  expect(() => checkDpopBinding(p, TOKEN, {})).toThrow(expect.objectContaining({ code: 'DPOP_BINDING_INVALID', message: 'Access token is not DPoP-bound' }));
  const noAth = await check(await proof({ ath: undefined }));
  expect(() => checkDpopBinding(noAth, TOKEN, { cnf: { jkt: noAth.jkt } })).toThrow(expect.objectContaining({ code: 'DPOP_PROOF_INVALID' }));
});

test('the challenge names the algorithms and the error', () => {
  expect(dpopChallenge('invalid_dpop_proof')).toBe('DPoP algs="ES256 ES384 PS256 Ed25519 EdDSA", error="invalid_dpop_proof"');
  expect(dpopChallenge('invalid_token')).toBe('DPoP algs="ES256 ES384 PS256 Ed25519 EdDSA", error="invalid_token"');
});
