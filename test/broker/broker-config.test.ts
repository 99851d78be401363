import express4 from 'express4';
import { ConfigError } from '../../index.js';
import { builtinConnectors } from '../../connectors/registry.js';
import { loadConfig } from '../../lib/config/load.js';
import { generatePrivateJwk } from '../../lib/tokens/keys.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { authorize, discover, exchange, signIn, signedIn, startRelyingParty, type RelyingParty } from './helpers.js';

const SESSION_SECRET = 'broker-cfg-session-secret-0123456789-abcdefghij';
const CLIENT_SECRET = 'broker-cfg-client-secret-PLANTED-9f8e7d6c5b4a3210';

let jwks: { keys: Record<string, unknown>[] };
beforeAll(async () => {
  jwks = { keys: [(await generatePrivateJwk('ES256')) as unknown as Record<string, unknown>] };
});

type Json = Record<string, unknown>;
function config(op: Json, extra: Json = {}): Json {
  return {
    baseUrl: 'https://app.example.com',
    session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1/0' } },
    tokens: { keys: structuredClone(jwks), scopes: { 'reports:read': { claim: 'roles', includes: 'analyst' } } },
    connectors: [{ id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'app', clientSecret: 'upstream-secret' }],
    op,
    ...extra,
  };
}

const client = (over: Json = {}): Json => ({ client_id: 'web', client_secret: CLIENT_SECRET, redirect_uris: ['https://web.example.com/cb'], ...over });

function problemsOf(input: Json): Array<{ path: string; message: string }> {
  try {
    loadConfig(input, { registry: builtinConnectors, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).not.toContain(CLIENT_SECRET);
    return [...e.problems];
  }
  throw new Error('configuration was accepted');
}

describe('op configuration', () => {
  test('a valid block loads; defaults stay to lib/broker', () => {
    const resolved = loadConfig(config({ enabled: true, clients: [client(), client({ client_id: 'spa', client_secret: undefined })] }), {
      registry: builtinConnectors,
      env: {},
    });
    expect(resolved.op?.enabled).toBe(true);
    expect(resolved.op?.clients?.map((c) => c.client_id)).toEqual(['web', 'spa']);
  });

  test('problems are reported with their paths, never the secret: shape first, then every cross check together', () => {
    const problems = problemsOf(
      config({
        enabled: true,
        scopes: { profile: ['nickname'], 'reports:read': ['roles'], team: ['roles', 'aud'] },
        clients: [
          client({ token_endpoint_auth_method: 'none' }),
          client({ client_id: 'web', client_secret: undefined, token_endpoint_auth_method: 'client_secret_post' }),
          client({
            client_id: 'fedgate',
            redirect_uris: ['http://web.example.com/cb', 'https://web.example.com/cb#frag', 'javascript:alert(1)', 'https://u:p@web.example.com/cb'],
          }),
          client({ client_id: 'x', scopes: ['profile', 'unknown'], backchannel_logout_uri: 'http://internal.example/bcl', audience: 'not a uri' }),
          client({ client_id: 'short', client_secret: 'too-short' }),
        ],
        ttl: { authorizationCode: 3600 },
        extra: true,
      }),
    );
    const paths = problems.map((p) => `${p.path}: ${p.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'op.extra: unknown key',
        'op.ttl.authorizationCode: Too big: expected number to be <=600',
        'op.clients[4].client_secret: must be at least 32 characters',
      ]),
    );
    // Shape errors stop before the cross checks; fix them and the rest is reported together.
    const second = problemsOf(
      config({
        enabled: true,
        scopes: { profile: ['nickname'], 'reports:read': ['roles'], team: ['roles', 'aud'] },
        clients: [
          client({ token_endpoint_auth_method: 'none' }),
          client({ client_id: 'web', client_secret: undefined, token_endpoint_auth_method: 'client_secret_post' }),
          client({
            client_id: 'fedgate',
            redirect_uris: ['http://web.example.com/cb', 'https://web.example.com/cb#frag', 'javascript:alert(1)', 'https://u:p@web.example.com/cb'],
          }),
          client({ client_id: 'x', scopes: ['profile', 'unknown'], backchannel_logout_uri: 'http://internal.example/bcl', audience: 'not a uri' }),
        ],
      }),
    ).map((p) => `${p.path}: ${p.message}`);
    expect(second).toEqual(
      expect.arrayContaining([
        'op.scopes.profile: standard scopes cannot be redefined',
        'op.scopes.reports:read: clashes with a local scope of tokens.scopes (those are access-token scopes)',
        'op.scopes.team[1]: is a reserved claim and cannot be released by a scope',
        'op.clients[0].client_secret: a public client (token_endpoint_auth_method "none") must not have a secret',
        'op.clients[1].client_id: duplicate client_id',
        'op.clients[1].client_secret: required for token_endpoint_auth_method "client_secret_post"',
        'op.clients[2].client_id: "fedgate" is the gateway\'s own client id',
        'op.clients[2].redirect_uris[0]: must be https (http only for loopback, or with allowInsecureRequests)',
        'op.clients[2].redirect_uris[1]: must not contain a fragment',
        'op.clients[2].redirect_uris[2]: must be an http(s) URL',
        'op.clients[2].redirect_uris[3]: must not contain credentials',
        'op.clients[3].scopes[1]: unknown scope: not standard, not in op.scopes, not in tokens.scopes',
        'op.clients[3].scopes: must include "openid"',
        'op.clients[3].backchannel_logout_uri: must be https (http only for loopback, or with allowInsecureRequests)',
        'op.clients[3].audience: must be an absolute URI without fragment (RFC 8707 resource indicator)',
      ]),
    );
  });

  test('the issuer must be where clients discover it', () => {
    const problems = problemsOf(
      config({ enabled: true, clients: [client()] }, { tokens: { keys: structuredClone(jwks), issuer: 'https://login.example.com' } }),
    );
    expect(problems).toEqual([
      {
        path: 'tokens.issuer',
        message: 'must be https://app.example.com/auth (baseUrl + basePath) in broker mode, where clients discover the provider at the issuer',
      },
    ]);
  });

  test('with op.enabled false nothing is checked beyond the shape, and no broker route exists', () => {
    const resolved = loadConfig(config({ enabled: false, clients: [client({ token_endpoint_auth_method: 'none' })] }), {
      registry: builtinConnectors,
      env: {},
    });
    expect(resolved.op?.enabled).toBe(false);
  });
});

describe('broker mode off', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('discovery stays the local metadata and broker routes do not exist', async () => {
    const doc = (await (await fetch(`${stack.url}/auth/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(`${stack.url}/auth`);
    expect(doc).not.toHaveProperty('authorization_endpoint');
    const authorize = await fetch(`${stack.url}/auth/authorize?client_id=x`, { redirect: 'manual' });
    expect(authorize.status).toBe(404);
    const consents = await fetch(`${stack.url}/auth/consents`, { headers: { accept: 'application/json' } });
    expect(consents.status).toBe(404);
  });
});

describe('development mode: memory session store, on Express 4', () => {
  let stack: Stack;
  let rp: RelyingParty;
  beforeAll(async () => {
    rp = await startRelyingParty();
    stack = await startStack({
      expressModule: express4,
      config: (c) => {
        c.session = { secret: SESSION_SECRET, insecureMemoryStore: true };
        c.op = { enabled: true, clients: [{ client_id: 'dev', client_secret: CLIENT_SECRET, redirect_uris: [rp.callback], trusted: true }] };
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await rp?.close();
  });

  test("broker mode runs on oidc-provider's memory adapter", async () => {
    const broker = Object.assign(stack, { rp });
    const cfg = await discover(broker, { client_id: 'dev', client_secret: CLIENT_SECRET });
    const browser = stack.browser();
    const tokens = await signIn(broker, cfg, browser);
    expect(tokens.claims()).toMatchObject({ sub: 'corp|alice', aud: 'dev' });
    expect(await signedIn(stack, browser)).toBe(true);
  });
});

describe("home-realm discovery with the client's login_hint", () => {
  let stack: Stack;
  let rp: RelyingParty;
  beforeAll(async () => {
    rp = await startRelyingParty();
    stack = await startStack({
      config: (c, op) => {
        const connectors = c.connectors as Array<Record<string, unknown>>;
        connectors[0]!.domains = ['example.com'];
        connectors.push({ ...connectors[0], id: 'partner', name: 'Partner SSO', domains: ['partner.example'] });
        void op;
        c.op = { enabled: true, clients: [{ client_id: 'hrd', client_secret: CLIENT_SECRET, redirect_uris: [rp.callback], trusted: true }] };
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await rp?.close();
  });

  test('without a hint the chooser shows; with one the matching connector runs and the client gets its code', async () => {
    const broker = Object.assign(stack, { rp });
    const cfg = await discover(broker, { client_id: 'hrd', client_secret: CLIENT_SECRET });
    const chooser = await authorize(broker, cfg, stack.browser());
    expect(chooser.result.status).toBe(200);
    expect(chooser.result.url).toMatch(new RegExp(`^${stack.url}/auth/login\\?returnTo=%2Fauth%2Finteraction%2F`));
    expect(chooser.result.body).toContain('Partner SSO');

    const hinted = await authorize(broker, cfg, stack.browser(), { login_hint: 'alice@example.com' });
    expect(hinted.result.chain.some((u) => u.includes('login_hint=alice%40example.com') && u.startsWith(`${stack.url}/auth/login`))).toBe(true);
    expect(stack.op.authorizationRequests.at(-1)!.get('redirect_uri')).toBe(`${stack.url}/auth/callback/corp`);
    const tokens = await exchange(cfg, hinted);
    expect(tokens.claims()!.sub).toBe('corp|alice');
  });
});
