import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import { fedgate, requireAuth, type ConfigInput } from '../../index.js';
import { SESSION_SECRET, recordingLogger, testKeys } from '../fixtures/stack.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../fixtures/op.js';
import { closeServer, listenEphemeral } from '../fixtures/ports.js';
import { CONFIDENTIAL_SECRET, authorize, discover, startBrokerStack, type BrokerClientSpec, type BrokerStack } from './helpers.js';

// RFC 9449 (DPoP) at the resource: fedgate in broker mode issues DPoP-bound access tokens
// (`cnf.jkt`) when the token request carries a proof; requireAuth() and /auth/userinfo then accept
// such a token only as `Authorization: DPoP` with a valid proof, and never as a bearer token.
// Tokens come from a real token endpoint call of openid-client 6 (a third-party client with its
// own DPoP implementation); attack proofs are built with jose.

const client: BrokerClientSpec = {
  client_id: 'dpop-app',
  client_secret: CONFIDENTIAL_SECRET,
  trusted: true,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
};
const spa: BrokerClientSpec = { client_id: 'dpop-spa', trusted: true };

let stack: BrokerStack;
let config: oidc.Configuration;
type KeyPair = Awaited<ReturnType<typeof oidc.randomDPoPKeyPair>>;
let keyPair: KeyPair;
let bound: { accessToken: string; refreshToken?: string; tokenType: string; jkt: string };

/** A DPoP-bound token set for the signed-in user, through a real authorization code + token call. */
async function dpopTokens(pair: KeyPair, scope = 'openid profile email') {
  const browser = stack.browser();
  const attempt = await authorize(stack, config, browser, { scope });
  if (!attempt.result.stoppedAt) throw new Error(`no code: ${attempt.result.status} ${attempt.result.body.slice(0, 200)}`);
  return oidc.authorizationCodeGrant(
    config,
    new URL(attempt.result.stoppedAt),
    {
      pkceCodeVerifier: attempt.verifier,
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
      idTokenExpected: true,
    },
    undefined,
    { DPoP: oidc.getDPoPHandle(config, pair) },
  );
}

interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  ath?: string | null;
  typ?: string;
  keys?: KeyPair;
  /** Replaces the public JWK in the header. */
  jwk?: jose.JWK;
}

const athOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A DPoP proof JWT (RFC 9449 §4.2) built with jose, every member overridable. */
async function proof(token: string | undefined, url: string, opts: ProofOptions = {}): Promise<string> {
  const keys = opts.keys ?? keyPair;
  const jwk = opts.jwk ?? (await jose.exportJWK(keys.publicKey));
  const ath = opts.ath === null ? undefined : (opts.ath ?? (token ? athOf(token) : undefined));
  return new jose.SignJWT({ htm: opts.htm ?? 'GET', htu: opts.htu ?? url, jti: opts.jti ?? randomUUID(), ...(ath !== undefined ? { ath } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: opts.typ ?? 'dpop+jwt', jwk })
    .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
    .sign(keys.privateKey);
}

interface Answer {
  status: number;
  challenge: string | null;
  body: Record<string, unknown>;
}

async function call(path: string, headers: Record<string, string>, method = 'GET'): Promise<Answer> {
  const res = await fetch(`${stack.url}${path}`, { method, headers: { accept: 'application/json', ...headers }, redirect: 'manual' });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body };
}

/** A request with `Authorization: DPoP <token>` and a proof for exactly this request. */
async function withProof(path: string, token = bound.accessToken, opts: ProofOptions = {}, method = 'GET'): Promise<Answer> {
  const url = `${stack.url}${path.split('?')[0]}`;
  return call(path, { authorization: `DPoP ${token}`, dpop: await proof(token, url, { htm: method, ...opts }) }, method);
}

function expectProofRefused(a: Answer) {
  expect(a.status).toBe(401);
  expect(a.body).toMatchObject({ error: 'invalid_dpop_proof', code: 'DPOP_PROOF_INVALID' });
  expect(a.challenge).toMatch(/^DPoP algs="[A-Za-z0-9 ]+", error="invalid_dpop_proof"/);
}

function expectBindingRefused(a: Answer) {
  expect(a.status).toBe(401);
  expect(a.body).toMatchObject({ error: 'invalid_token', code: 'DPOP_BINDING_INVALID' });
  expect(a.challenge).toMatch(/^DPoP algs="[A-Za-z0-9 ]+", error="invalid_token"/);
}

beforeAll(async () => {
  stack = await startBrokerStack([client, spa]);
  config = await discover(stack, client);
  keyPair = await oidc.randomDPoPKeyPair('ES256');
  const tokens = await dpopTokens(keyPair, 'openid profile email offline_access');
  bound = {
    accessToken: tokens.access_token,
    tokenType: tokens.token_type,
    jkt: await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey)),
    ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
  };
}, 30_000);
afterAll(async () => {
  await stack?.close();
});

describe('issuing', () => {
  test('discovery advertises DPoP, and a token request with a proof yields a token bound to its key', async () => {
    const doc = (await (await fetch(`${stack.url}/auth/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
    expect(bound.tokenType.toLowerCase()).toBe('dpop');
    expect(jose.decodeJwt(bound.accessToken).cnf).toEqual({ jkt: bound.jkt });
  });
});

describe('openid-client 6 as the client (its own DPoP implementation)', () => {
  test('requireAuth() accepts the bound token with its proofs, request after request', async () => {
    const dpop = oidc.getDPoPHandle(config, keyPair);
    for (let i = 0; i < 3; i++) {
      const res = await oidc.fetchProtectedResource(
        config,
        bound.accessToken,
        new URL(`${stack.url}/dashboard?round=${i}`),
        'GET',
        undefined,
        new Headers({ accept: 'application/json' }),
        { DPoP: dpop },
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ sub: 'corp|alice', via: 'bearer' });
    }
  });

  test('/auth/userinfo accepts the bound token with a proof', async () => {
    const info = await oidc.fetchUserInfo(config, bound.accessToken, 'corp|alice', { DPoP: oidc.getDPoPHandle(config, keyPair) });
    expect(info).toMatchObject({ sub: 'corp|alice', email: 'alice@example.com' });
  });

  test('a refreshed token stays bound and works with proofs', async () => {
    const dpop = oidc.getDPoPHandle(config, keyPair);
    const refreshed = await oidc.refreshTokenGrant(config, bound.refreshToken!, undefined, { DPoP: dpop });
    expect(jose.decodeJwt(refreshed.access_token).cnf).toEqual({ jkt: bound.jkt });
    const res = await oidc.fetchProtectedResource(config, refreshed.access_token, new URL(`${stack.url}/dashboard`), 'GET', undefined, undefined, {
      DPoP: dpop,
    });
    expect(res.status).toBe(200);
    // ...and as a bearer token it is refused.
    expectBindingRefused(await call('/dashboard', { authorization: `Bearer ${refreshed.access_token}` }));
  });
});

describe('public clients', () => {
  test('the refresh token of a public client is bound to the key too: no refresh without a proof of it', async () => {
    const spaConfig = await discover(stack, spa);
    const pair = await oidc.randomDPoPKeyPair('ES256');
    const attempt = await authorize(stack, spaConfig, stack.browser());
    const tokens = await oidc.authorizationCodeGrant(
      spaConfig,
      new URL(attempt.result.stoppedAt!),
      {
        pkceCodeVerifier: attempt.verifier,
        expectedState: attempt.state,
        expectedNonce: attempt.nonce,
      },
      undefined,
      { DPoP: oidc.getDPoPHandle(spaConfig, pair) },
    );
    expect(tokens.refresh_token).toBeDefined();
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (err: unknown) => (err instanceof oidc.ResponseBodyError ? err.error : String(err)),
      );
    expect(await refusal(oidc.refreshTokenGrant(spaConfig, tokens.refresh_token!))).toBe('invalid_grant');
    const other = await oidc.randomDPoPKeyPair('ES256');
    expect(await refusal(oidc.refreshTokenGrant(spaConfig, tokens.refresh_token!, undefined, { DPoP: oidc.getDPoPHandle(spaConfig, other) }))).toBe(
      'invalid_grant',
    );
    const refreshed = await oidc.refreshTokenGrant(spaConfig, tokens.refresh_token!, undefined, { DPoP: oidc.getDPoPHandle(spaConfig, pair) });
    expect(jose.decodeJwt(refreshed.access_token).cnf).toEqual({ jkt: await jose.calculateJwkThumbprint(await jose.exportJWK(pair.publicKey)) });
  });
});

describe('the binding holds', () => {
  test('control: a hand-built proof is accepted at requireAuth() and /auth/userinfo', async () => {
    expect((await withProof('/dashboard')).status).toBe(200);
    expect((await withProof('/auth/userinfo')).body).toMatchObject({ sub: 'corp|alice' });
    // The query string is not part of htu (RFC 9449 §4.3).
    expect((await withProof('/dashboard?x=1')).status).toBe(200);
  });

  test.each(['/dashboard', '/auth/userinfo'])(
    '%s: the bound token as a plain bearer token is refused (no downgrade), even once verified and cached',
    async (path) => {
      expect((await withProof(path)).status).toBe(200);
      for (let i = 0; i < 2; i++) expectBindingRefused(await call(path, { authorization: `Bearer ${bound.accessToken}` }));
    },
  );

  test.each(['/dashboard', '/auth/userinfo'])('%s: DPoP scheme without a proof is refused', async (path) => {
    expectProofRefused(await call(path, { authorization: `DPoP ${bound.accessToken}` }));
  });

  test('a replayed proof (same jti) is refused', async () => {
    const url = `${stack.url}/dashboard`;
    const p = await proof(bound.accessToken, url);
    expect((await call('/dashboard', { authorization: `DPoP ${bound.accessToken}`, dpop: p })).status).toBe(200);
    expectProofRefused(await call('/dashboard', { authorization: `DPoP ${bound.accessToken}`, dpop: p }));
    // The same jti in a fresh proof is a replay too.
    const jti = randomUUID();
    expect((await withProof('/auth/userinfo', bound.accessToken, { jti })).status).toBe(200);
    expectProofRefused(await withProof('/auth/userinfo', bound.accessToken, { jti }));
  });

  test('the jti guard lives in Redis (with a TTL): a proof used at one instance is refused at another behind the same URL', async () => {
    const direct = stack.redis.client();
    const app = express();
    const second = fedgate(
      {
        baseUrl: stack.url,
        allowInsecureRequests: true,
        session: { secret: SESSION_SECRET, redis: { url: stack.redis.url } },
        tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] } },
        connectors: [{ id: 'corp', type: 'oidc', issuer: stack.op.issuer, clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }],
      } as ConfigInput,
      { logger: recordingLogger() },
    );
    app.use(second);
    app.get('/dashboard', requireAuth(), (req, res) => res.json({ sub: req.auth.sub }));
    const server = createServer(app);
    const port = await listenEphemeral(server);
    try {
      const before = new Set(await direct.keys('fedgate:dpop:*'));
      const p = await proof(bound.accessToken, `${stack.url}/dashboard`);
      const send = (origin: string) =>
        fetch(`${origin}/dashboard`, { headers: { authorization: `DPoP ${bound.accessToken}`, dpop: p, accept: 'application/json' } });
      expect((await send(stack.url)).status).toBe(200);
      const added = (await direct.keys('fedgate:dpop:*')).filter((k) => !before.has(k));
      expect(added).toHaveLength(1);
      const ttl = await direct.ttl(added[0]!);
      expect(ttl).toBeGreaterThan(60);
      expect(ttl).toBeLessThanOrEqual(70);
      const replay = await send(`http://127.0.0.1:${port}`);
      expect(replay.status).toBe(401);
      expect(await replay.json()).toMatchObject({ code: 'DPOP_PROOF_INVALID' });
      // Control: a fresh proof is accepted by the second instance.
      const fresh = await fetch(`http://127.0.0.1:${port}/dashboard`, {
        headers: { authorization: `DPoP ${bound.accessToken}`, dpop: await proof(bound.accessToken, `${stack.url}/dashboard`), accept: 'application/json' },
      });
      expect(fresh.status).toBe(200);
    } finally {
      await second.close();
      await closeServer(server);
      direct.disconnect();
    }
  });

  test.each<[string, () => Promise<ProofOptions>]>([
    ['wrong htm', async () => ({ htm: 'POST' })],
    ['htu of another path', async () => ({ htu: `${stack.url}/admin` })],
    ['htu of another origin', async () => ({ htu: 'https://evil.example/dashboard' })],
    ['htu that is not a URL', async () => ({ htu: 'not a url' })],
    ['stale iat', async () => ({ iat: Math.floor(Date.now() / 1000) - 600 })],
    ['iat in the future', async () => ({ iat: Math.floor(Date.now() / 1000) + 600 })],
    ['wrong ath', async () => ({ ath: athOf('another token') })],
    ['no ath', async () => ({ ath: null })],
    ['typ JWT', async () => ({ typ: 'JWT' })],
    [
      'a private key in the jwk header',
      async () => {
        const pair = await jose.generateKeyPair('ES256', { extractable: true });
        return { keys: pair, jwk: await jose.exportJWK(pair.privateKey) };
      },
    ],
    ['a jwk header that does not match the signing key', async () => ({ jwk: await jose.exportJWK((await jose.generateKeyPair('ES256')).publicKey) })],
  ])('%s is refused at requireAuth() and /auth/userinfo', async (_name, opts) => {
    expectProofRefused(await withProof('/dashboard', bound.accessToken, await opts()));
    expectProofRefused(await withProof('/auth/userinfo', bound.accessToken, await opts()));
  });

  test('a proof with a symmetric alg (HS256) is refused', async () => {
    const url = `${stack.url}/dashboard`;
    const secret = 'secretsecretsecretsecretsecret!!';
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } })}.${b64({ htm: 'GET', htu: url, jti: randomUUID(), ath: athOf(bound.accessToken), iat: Math.floor(Date.now() / 1000) })}`;
    const hs = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    expectProofRefused(await call('/dashboard', { authorization: `DPoP ${bound.accessToken}`, dpop: hs }));
  });

  test("a valid proof from another key (the token thief's) is refused", async () => {
    const thief = await jose.generateKeyPair('ES256');
    const a = await withProof('/dashboard', bound.accessToken, { keys: thief });
    expectBindingRefused(a);
    expectBindingRefused(await withProof('/auth/userinfo', bound.accessToken, { keys: thief }));
  });

  test('a garbage proof or two proofs are refused', async () => {
    expectProofRefused(await call('/dashboard', { authorization: `DPoP ${bound.accessToken}`, dpop: 'not-a-jwt' }));
    const url = `${stack.url}/dashboard`;
    const two = `${await proof(bound.accessToken, url)}, ${await proof(bound.accessToken, url)}`;
    expectProofRefused(await call('/dashboard', { authorization: `DPoP ${bound.accessToken}`, dpop: two }));
  });
});

describe('tokens that are not bound', () => {
  test('an unbound broker token works as Bearer, and is refused with the DPoP scheme (RFC 9449 §7.1)', async () => {
    const browser = stack.browser();
    const attempt = await authorize(stack, config, browser);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(attempt.result.stoppedAt!), {
      pkceCodeVerifier: attempt.verifier,
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
    });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(jose.decodeJwt(tokens.access_token).cnf).toBeUndefined();
    expect((await call('/dashboard', { authorization: `Bearer ${tokens.access_token}` })).status).toBe(200);
    expectBindingRefused(await withProof('/dashboard', tokens.access_token));
    expectBindingRefused(await withProof('/auth/userinfo', tokens.access_token));
  });

  test('an invalid token with the DPoP scheme gets a DPoP invalid_token challenge', async () => {
    const a = await withProof('/dashboard', 'not.a.token');
    expect(a.status).toBe(401);
    expect(a.body).toMatchObject({ error: 'invalid_token', code: 'TOKEN_INVALID' });
    expect(a.challenge).toMatch(/^DPoP algs="[A-Za-z0-9 ]+", error="invalid_token"/);
  });
});

describe('Redis unavailable', () => {
  test('a DPoP request whose jti cannot be recorded gets 503, never access', async () => {
    expect((await withProof('/dashboard')).status).toBe(200);
    stack.redis.pause();
    try {
      const a = await withProof('/dashboard');
      expect(a.status).toBe(503);
      expect(a.body).toMatchObject({ error: 'temporarily_unavailable', code: 'SESSION_STORE_UNAVAILABLE' });
    } finally {
      stack.redis.resume();
    }
  });
});
