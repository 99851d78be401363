import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import { FedgateError } from '../../../lib/errors.js';
import { generatePrivateJwk, loadKeySet } from '../../../lib/tokens/keys.js';
import type { KeySet, SigningAlgorithm } from '../../../lib/tokens/keys.js';
import { publicJwks } from '../../../lib/tokens/metadata.js';
import { createTokenMinter } from '../../../lib/tokens/mint.js';
import { createAccessTokenVerifier } from '../../../lib/tokens/verify.js';

const ISSUER = 'https://app.example.com/auth';
const AUDIENCE = 'https://api.example.com';
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const NOW_S = T0 / 1000;
const noopLogger = { debug() {}, info() {}, warn() {}, error() {} };

let clock = T0;
const now = () => clock;
beforeEach(() => {
  clock = T0;
});

async function keySetOf(...keys: JWK[]): Promise<KeySet> {
  return loadKeySet({ keys: { keys }, baseDir: '/', logger: noopLogger });
}

function minterFor(keySet: KeySet, extra: Partial<Parameters<typeof createTokenMinter>[0]> = {}) {
  return createTokenMinter({ keySet, issuer: ISSUER, audience: AUDIENCE, accessTokenTtl: 300, idTokenTtl: 600, now, ...extra });
}

function verifierFor(keySet: KeySet, extra: Partial<Parameters<typeof createAccessTokenVerifier>[0]> = {}) {
  return createAccessTokenVerifier({ keySet, issuer: ISSUER, audience: AUDIENCE, now, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<FedgateError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof FedgateError) return err;
    throw err;
  }
  throw new Error('expected a FedgateError');
}

const identity = {
  email: 'ada@example.com',
  name: 'Ada',
  roles: ['analyst'],
  groups: ['eng'],
  entitlements: ['beta'],
  iss: 'https://evil.example',
  aud: AUDIENCE,
  exp: 9_999_999_999,
  sub: 'someone-else',
  scope: 'admin',
  client_id: 'evil',
  nonce: 'n',
  sid: 'other',
  jti: 'x',
  cnf: { jkt: 'x' },
  typ: 'at+jwt',
  auth_time: 1,
  nbf: 9_999_999_999,
};

describe.each(['ES256', 'RS256', 'PS256', 'EdDSA'] as const)('%s', (alg: SigningAlgorithm) => {
  let keySet: KeySet;
  beforeAll(async () => {
    keySet = await keySetOf(await generatePrivateJwk(alg));
  });

  test('access token: RFC 9068 header and claims, verifies, and only authorization claims', async () => {
    const minted = await minterFor(keySet, { randomId: () => 'jti-1' }).mintAccessToken({
      sub: 'corp|42',
      authTime: NOW_S - 60,
      sid: 'sid-1',
      scope: ['reports:read', 'openid'],
      claims: identity,
    });
    expect(decodeProtectedHeader(minted.token)).toEqual({ alg, kid: keySet.signing.kid, typ: 'at+jwt' });
    expect(minted.payload).toEqual({
      iss: ISSUER,
      sub: 'corp|42',
      aud: AUDIENCE,
      exp: NOW_S + 300,
      iat: NOW_S,
      jti: 'jti-1',
      client_id: 'fedgate',
      scope: 'reports:read openid',
      sid: 'sid-1',
      auth_time: NOW_S - 60,
      roles: ['analyst'],
      groups: ['eng'],
      entitlements: ['beta'],
    });
    expect(decodeJwt(minted.token)).toEqual(minted.payload);
    expect(minted.expiresAt).toBe(T0 + 300_000);

    const verified = await verifierFor(keySet)(minted.token);
    expect(verified).toEqual({ sub: 'corp|42', scope: ['reports:read', 'openid'], claims: minted.payload, exp: NOW_S + 300, sid: 'sid-1', jti: 'jti-1' });
  });

  test('ID token: typ JWT, aud = client id, identity claims never override protocol claims', async () => {
    const minted = await minterFor(keySet).mintIdToken({ sub: 'corp|42', authTime: NOW_S - 60, sid: 'sid-1', claims: identity });
    expect(decodeProtectedHeader(minted.token)).toEqual({ alg, kid: keySet.signing.kid, typ: 'JWT' });
    expect(minted.payload).toEqual({
      email: 'ada@example.com',
      name: 'Ada',
      roles: ['analyst'],
      groups: ['eng'],
      entitlements: ['beta'],
      iss: ISSUER,
      sub: 'corp|42',
      aud: 'fedgate',
      exp: NOW_S + 600,
      iat: NOW_S,
      auth_time: NOW_S - 60,
      sid: 'sid-1',
    });
    expect(minted.expiresAt).toBe(T0 + 600_000);
  });

  test('any JOSE library verifies the tokens with the published JWKS alone', async () => {
    const jwks = createLocalJWKSet(publicJwks(keySet));
    const minter = minterFor(keySet);
    const at = await minter.mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] });
    const id = await minter.mintIdToken({ sub: 's', authTime: NOW_S });
    const options = { issuer: ISSUER, currentDate: new Date(T0) };
    await expect(jwtVerify(at.token, jwks, { ...options, audience: AUDIENCE, typ: 'at+jwt' })).resolves.toBeDefined();
    await expect(jwtVerify(id.token, jwks, { ...options, audience: 'fedgate', typ: 'JWT' })).resolves.toBeDefined();
  });
});

describe('minting details', () => {
  let keySet: KeySet;
  beforeAll(async () => {
    keySet = await keySetOf(await generatePrivateJwk('ES256'));
  });

  test('default jti is 128 random bits, unique per token', async () => {
    const minter = minterFor(keySet);
    const a = await minter.mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] });
    const b = await minter.mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] });
    expect(a.payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.payload.jti).not.toBe(b.payload.jti);
  });

  test('no scope granted means no scope claim; verify then reports an empty list', async () => {
    const minted = await minterFor(keySet).mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] });
    expect(minted.payload).not.toHaveProperty('scope');
    expect((await verifierFor(keySet)(minted.token)).scope).toEqual([]);
  });

  test('broker-mode overrides: nonce and aud of ID tokens, client_id of access tokens', async () => {
    const minter = minterFor(keySet, { clientId: 'gateway' });
    const id = await minter.mintIdToken({ sub: 's', authTime: NOW_S, nonce: 'n-1', clientId: 'app-2' });
    expect(id.payload).toMatchObject({ aud: 'app-2', nonce: 'n-1' });
    const at = await minter.mintAccessToken({ sub: 's', authTime: NOW_S, scope: ['a'] });
    expect(at.payload.client_id).toBe('gateway');
    expect((await minter.mintAccessToken({ sub: 's', authTime: NOW_S, scope: [], clientId: 'app-2' })).payload.client_id).toBe('app-2');
  });

  test('a claim named __proto__ cannot reach the payload prototype', async () => {
    const claims = JSON.parse('{"__proto__": {"admin": true}, "roles": ["r"]}') as Record<string, unknown>;
    const id = await minterFor(keySet).mintIdToken({ sub: 's', authTime: NOW_S, claims });
    expect(Object.getPrototypeOf(id.payload)).toBe(Object.prototype);
    expect(decodeJwt(id.token)).not.toHaveProperty('admin');
  });

  test('refuses to mint without a subject', async () => {
    const err = await failure(minterFor(keySet).mintAccessToken({ sub: '', authTime: NOW_S, scope: [] }));
    expect([err.code, err.message]).toEqual(['INTERNAL_ERROR', 'Cannot mint a token without a subject']);
  });
});

describe('key rotation', () => {
  let oldKey: JWK;
  let newKey: JWK;
  beforeAll(async () => {
    [oldKey, newKey] = await Promise.all([generatePrivateJwk('ES256'), generatePrivateJwk('RS256')]);
  });

  test('a token signed by the old key still verifies once the new key is first', async () => {
    const before = await keySetOf(oldKey);
    const after = await keySetOf(newKey, oldKey);
    const token = (await minterFor(before).mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] })).token;
    await expect(verifierFor(after)(token)).resolves.toMatchObject({ sub: 's' });
    const fresh = await minterFor(after).mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] });
    expect(decodeProtectedHeader(fresh.token)).toMatchObject({ kid: newKey.kid, alg: 'RS256' });
  });

  test('a token from the second key of the set verifies', async () => {
    const secondOnly = await keySetOf(oldKey);
    const both = await keySetOf(newKey, oldKey);
    const token = (await minterFor(secondOnly).mintAccessToken({ sub: 's', authTime: NOW_S, scope: ['x'] })).token;
    await expect(verifierFor(both)(token)).resolves.toMatchObject({ scope: ['x'] });
  });

  test('once the old key is removed, its tokens are refused', async () => {
    const token = (await minterFor(await keySetOf(oldKey)).mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] })).token;
    const err = await failure(verifierFor(await keySetOf(newKey))(token));
    expect([err.code, err.message, err.status]).toEqual(['TOKEN_INVALID', 'Access token invalid', 401]);
  });
});

describe('verified-token cache', () => {
  let keySet: KeySet;
  beforeAll(async () => {
    keySet = await keySetOf(await generatePrivateJwk('ES256'));
  });

  test('a repeated token is answered from the cache with a frozen result', async () => {
    const { token } = await minterFor(keySet).mintAccessToken({ sub: 's', authTime: NOW_S, scope: ['a'], claims: { roles: ['r'] } });
    const verify = verifierFor(keySet);
    const first = await verify(token);
    expect(await verify(token)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.claims) && Object.isFrozen(first.claims.roles)).toBe(true);
  });

  test('a cached entry is never used at or past exp', async () => {
    const { token } = await minterFor(keySet).mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] });
    const verify = verifierFor(keySet);
    const cached = await verify(token);
    clock = T0 + 300_000; // exactly exp: within the clock tolerance, so only a fresh check passes
    expect(await verify(token)).not.toBe(cached);

    const strict = verifierFor(keySet, { clockTolerance: 0 });
    clock = T0;
    await strict(token);
    clock = T0 + 300_000;
    const err = await failure(strict(token));
    expect([err.code, err.message]).toEqual(['TOKEN_INVALID', 'Access token expired']);
  });

  test('the cache is bounded and can be turned off', async () => {
    const minter = minterFor(keySet);
    const tokens = await Promise.all([1, 2, 3].map(async () => (await minter.mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] })).token));
    const small = verifierFor(keySet, { cacheSize: 2 });
    const first = await small(tokens[0]!);
    await small(tokens[1]!);
    await small(tokens[2]!);
    expect(await small(tokens[0]!)).not.toBe(first); // evicted, verified again
    const uncached = verifierFor(keySet, { cache: false });
    expect(await uncached(tokens[0]!)).not.toBe(await uncached(tokens[0]!));
  });

  test('clock tolerance: accepted a few seconds past exp, refused after', async () => {
    const { token } = await minterFor(keySet).mintAccessToken({ sub: 's', authTime: NOW_S, scope: [] });
    clock = T0 + 303_000;
    await expect(verifierFor(keySet)(token)).resolves.toMatchObject({ sub: 's' });
    clock = T0 + 306_000;
    const err = await failure(verifierFor(keySet)(token));
    expect([err.code, err.message]).toEqual(['TOKEN_INVALID', 'Access token expired']);
  });
});
