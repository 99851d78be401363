/**
 * The `connectorTypes` extension point, used as an app would: everything comes from 'fedgate'
 * (the package entry), the type brings its own zod schema built on `connectorBaseShape`, and a
 * user signs in through it end to end (login redirect, callback, mapped claims, refresh, upstream
 * logout), with sessions in the development memory store.
 */
import express from 'express';
import request from 'supertest';
import { z } from 'zod';
import {
  ConfigError,
  FedgateError,
  connectorBaseShape,
  defineConnectorType,
  fedgate,
  requireAuth,
  type BeginLoginInput,
  type CompleteLoginInput,
  type Connector,
  type ConnectorContext,
  type ConnectorStatus,
  type ConfigInput,
  type FedgateOptions,
  type LogoutInput,
  type Refreshable,
  type RefreshInput,
  type UpstreamIdentity,
  type UpstreamLogout,
} from 'fedgate';
import { recordingLogger } from '../fixtures/stack.js';

const baseUrl = 'http://localhost:3000';

/** The type's own keys next to the common ones. */
const acmeSchema = z.strictObject({
  type: z.literal('acme'),
  ...connectorBaseShape,
  tenant: z.string().regex(/^[a-z]+$/, 'must be lower-case letters'),
  postLogoutRedirectUri: z.url().optional(),
});
type AcmeConfig = z.infer<typeof acmeSchema>;

/** What the imitated upstream returns, and what the connector was asked. */
const upstream = {
  identities: [] as UpstreamIdentity[],
  refreshInputs: [] as RefreshInput[],
};

class AcmeConnector implements Connector, Refreshable, UpstreamLogout {
  readonly type = 'acme';
  readonly id: string;
  readonly #cfg: AcmeConfig;
  readonly #ctx: ConnectorContext;

  constructor(cfg: AcmeConfig, ctx: ConnectorContext) {
    this.id = cfg.id;
    this.#cfg = cfg;
    this.#ctx = ctx;
  }

  status(): ConnectorStatus {
    return { id: this.id, type: this.type, state: 'ready' };
  }

  async ready(): Promise<void> {}

  async beginLogin(input: BeginLoginInput) {
    const url = new URL(`https://${this.#cfg.tenant}.acme.example/authorize`);
    url.search = new URLSearchParams({ client_id: this.#cfg.clientId, redirect_uri: input.redirectUri, state: input.state }).toString();
    return { url, data: { nonce: `nonce-${input.state}` } };
  }

  async completeLogin(input: CompleteLoginInput): Promise<UpstreamIdentity> {
    if (input.data.nonce !== `nonce-${input.state}`) throw new FedgateError('CALLBACK_STATE_INVALID', 'Lost login data.');
    if (input.callbackUrl.searchParams.get('code') !== 'good-code') throw new FedgateError('CALLBACK_PARAMS_INVALID', 'Bad code.');
    return this.#issue();
  }

  async refresh(input: RefreshInput): Promise<UpstreamIdentity> {
    upstream.refreshInputs.push(input);
    return this.#issue();
  }

  async buildLogoutUrl(input: LogoutInput): Promise<URL> {
    const url = new URL(`https://${this.#cfg.tenant}.acme.example/logout`);
    url.searchParams.set('return', input.postLogoutRedirectUri);
    url.searchParams.set('session', input.data?.session ?? '');
    return url;
  }

  /** The next identity the upstream hands out: same user, new tokens, its teams growing. */
  #issue(): UpstreamIdentity {
    const n = upstream.identities.length + 1;
    const identity: UpstreamIdentity = {
      subject: 'u-42',
      claims: { user_id: 'u-42', mail: 'alice@acme.example', display: 'Alice', dept: 'R&D', teams: ['blue', ...(n > 1 ? ['red'] : [])] },
      tokens: { accessToken: `at-${n}`, refreshToken: `rt-${n}`, expiresAt: Math.floor(this.#ctx.now() / 1000) + 120 },
      sid: 'acme-session',
      logoutData: { session: `s-${n}` },
    };
    upstream.identities.push(identity);
    return structuredClone(identity);
  }
}

const acmeType = defineConnectorType({
  type: 'acme',
  schema: acmeSchema,
  // The type's preset mapping; an entry's own `claims` overlay it.
  claims: () => ({ sub: 'user_id', email: 'mail', name: 'display', groups: { from: 'teams', type: 'string[]' } }),
  validate: (config, at) => (config.tenant === 'admin' ? [{ path: `${at}.tenant`, message: 'is reserved by Acme' }] : []),
  create: (config, ctx) => new AcmeConnector(config, ctx),
});

function gatewayConfig(entry: Record<string, unknown>): ConfigInput {
  return {
    baseUrl,
    session: { secret: 'a-test-secret-that-is-long-enough-0123456789', insecureMemoryStore: true },
    tokens: { insecureEphemeralKeys: true },
    connectors: [{ type: 'acme', id: 'acme', clientId: 'app-1', tenant: 'corp', ...entry }],
  } as ConfigInput;
}

let clock = 1_700_000_000_000;
const options: FedgateOptions = { connectorTypes: new Map([[acmeType.type, acmeType]]), now: () => clock, nodeEnv: 'test', logger: recordingLogger() };

function appWith(entry: Record<string, unknown>) {
  const gateway = fedgate(gatewayConfig(entry), options);
  const app = express();
  app.use(gateway);
  app.get('/me', requireAuth(), (req, res) => res.json({ sub: req.auth.sub, claims: req.auth.claims }));
  return { app, gateway };
}

/** Signs in through the acme connector; returns the agent holding the session cookie. */
async function signIn(app: express.Express) {
  const agent = request.agent(app);
  const login = await agent.get('/auth/login/acme?returnTo=%2Fme');
  expect(login.status).toBe(302);
  const authorize = new URL(login.headers.location!);
  expect(`${authorize.origin}${authorize.pathname}`).toBe('https://corp.acme.example/authorize');
  expect(authorize.searchParams.get('client_id')).toBe('app-1');
  expect(authorize.searchParams.get('redirect_uri')).toBe(`${baseUrl}/auth/callback/acme`);
  const state = authorize.searchParams.get('state')!;
  const callback = await agent.get(`/auth/callback/acme?code=good-code&state=${encodeURIComponent(state)}`);
  expect({ status: callback.status, location: callback.headers.location }).toEqual({ status: 302, location: '/me' });
  return agent;
}

beforeEach(() => {
  upstream.identities.length = 0;
  upstream.refreshInputs.length = 0;
});

describe('a custom connector type registered with options.connectorTypes', () => {
  test('its entries are validated by its own schema and validate(), every problem at once', () => {
    const problems = (entry: Record<string, unknown>): string[] => {
      try {
        fedgate(gatewayConfig(entry), options);
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
        throw err;
      }
      return [];
    };
    expect(problems({ tenant: 'Corp', tenantt: 'x' })).toEqual([
      'connectors[0].tenant: must be lower-case letters',
      'connectors[0].tenantt: unknown key; did you mean tenant?',
    ]);
    expect(problems({ tenant: 'admin' })).toEqual(['connectors[0].tenant: is reserved by Acme']);
    expect(problems({ claims: { name: { form: 'display' } } })).toEqual(['connectors[0].claims.name.form: unknown key; did you mean from?']);
    expect(problems({})).toEqual([]);
  });

  test('without the registration, the type is unknown', () => {
    expect(() => fedgate(gatewayConfig({}), { ...options, connectorTypes: new Map() })).toThrow(ConfigError);
  });

  test("a user signs in through it: the login redirect, the callback, and req.auth with the type's mapping overlaid by the entry's", async () => {
    const { app, gateway } = appWith({ claims: { name: null, department: 'dept' } });
    try {
      const agent = await signIn(app);
      const me = await agent.get('/me').set('accept', 'application/json');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({
        sub: 'acme|u-42',
        claims: { sub: 'acme|u-42', email: 'alice@acme.example', groups: ['blue'], department: 'R&D' },
      });
      // A wrong code is the connector's coded error, shown by the gateway.
      const again = request.agent(app);
      const state = new URL((await again.get('/auth/login/acme')).headers.location!).searchParams.get('state')!;
      const bad = await again.get(`/auth/callback/acme?code=stolen&state=${state}`).set('accept', 'application/json');
      expect({ status: bad.status, code: (bad.body as { code?: string }).code }).toEqual({ status: 400, code: 'CALLBACK_PARAMS_INVALID' });
    } finally {
      await gateway.close();
    }
  });

  test('refresh receives the stored identity of the last login or refresh, never a made-up one', async () => {
    const { app, gateway } = appWith({});
    try {
      const agent = await signIn(app);
      clock += 100_000; // 20 s before the upstream tokens expire: inside the refresh margin
      const me = await agent.get('/me').set('accept', 'application/json');
      expect(me.status).toBe(200);
      expect((me.body as { claims: { groups: string[] } }).claims.groups).toEqual(['blue', 'red']);
      expect(upstream.refreshInputs).toHaveLength(1);
      expect(upstream.refreshInputs[0]!.refreshToken).toBe('rt-1');
      expect(upstream.refreshInputs[0]!.original).toEqual(upstream.identities[0]);

      clock += 100_000;
      expect((await agent.get('/me').set('accept', 'application/json')).status).toBe(200);
      expect(upstream.refreshInputs).toHaveLength(2);
      expect(upstream.refreshInputs[1]!.original).toEqual(upstream.identities[1]);
    } finally {
      await gateway.close();
    }
  });

  test('"refresh": false in the entry turns its refresh off', async () => {
    const { app, gateway } = appWith({ refresh: false });
    try {
      const agent = await signIn(app);
      clock += 100_000;
      expect((await agent.get('/me').set('accept', 'application/json')).status).toBe(200);
      expect(upstream.refreshInputs).toHaveLength(0);
    } finally {
      await gateway.close();
    }
  });

  test('upstream logout: the entry\'s "logout": "upstream" and the default post-logout URL, baseUrl + "/"', async () => {
    const { app, gateway } = appWith({ logout: 'upstream' });
    try {
      const agent = await signIn(app);
      const out = await agent.post('/auth/logout').set('origin', baseUrl);
      expect(out.status).toBe(302);
      const url = new URL(out.headers.location!);
      expect(`${url.origin}${url.pathname}`).toBe('https://corp.acme.example/logout');
      expect(url.searchParams.get('return')).toBe(`${baseUrl}/`);
      expect(url.searchParams.get('session')).toBe('s-1');
      expect((await agent.get('/me').set('accept', 'application/json')).status).toBe(401);
    } finally {
      await gateway.close();
    }
  });
});
