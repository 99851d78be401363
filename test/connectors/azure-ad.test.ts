/**
 * azure-ad (Microsoft Entra ID, v2): conformance plus the vendor's quirks.
 * Two tenant instances share keys behind one host; `/common` and `/organizations` serve the
 * `{tenantid}` template discovery (common lists tenant A's endpoints, organizations tenant B's);
 * a Graph stub pages group overage.
 */
import { jwtVerify, createLocalJWKSet, decodeProtectedHeader, type JWK } from 'jose';
import type { Request, Response } from 'express';
import { DEFAULT_CLIENT_ID, generateRsaKey, getSharedKey, getSharedPublicJwks, signJwt, startOp, type TestOp } from '../fixtures/op.js';
import { clientCredentials, queryOf, runConformance, type ConformanceContext } from './conformance.js';
import { discoveryAlias, entraAccounts, entraOpOptions, forwardTo } from './azure-imitation.js';
import { connectorProblems, docExamples } from './config-check.js';
import { waitFor } from '../fixtures/ports.js';

const TID_A = '7a1b2c3d-0000-4000-8000-00000000000a';
const TID_B = '7a1b2c3d-0000-4000-8000-00000000000b';
const TID_C = '7a1b2c3d-0000-4000-8000-00000000000c';
const ALICE_OID = String(entraAccounts(TID_A).alice!.oid);
const GUEST_OID = String(entraAccounts(TID_A).guest!.oid);
const OVERAGE_OID = String(entraAccounts(TID_A).overage!.oid);
const NAME = 'Contoso (Entra ID)';

/** 250 group ids: three Graph pages of 100. */
const OVERAGE_GROUPS = Array.from({ length: 250 }, (_, i) => `6a000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

const imitation = {
  opB: undefined as TestOp | undefined,
  /** Real Entra sends no `iss` on the redirect: tenant B's callbacks lose it unless a test wants it. */
  stripIssFromB: true,
  /** Which tenant's endpoints each template discovery lists. */
  templateTenant: { common: TID_A, organizations: TID_B } as Record<string, string>,
  graphToken: '',
  graphRequests: [] as Array<{ authorization: string | undefined; consistencyLevel: string | undefined; url: string }>,
};

/** A Graph-style access token: a `nonce` in the header over which the signature does not hold (https://github.com/AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet/issues/609). */
async function unverifiableGraphToken(): Promise<string> {
  const key = getSharedKey();
  const jwt = await signJwt(
    { aud: 'https://graph.microsoft.com', iss: `https://sts.windows.net/${TID_A}/`, oid: OVERAGE_OID, exp: Math.floor(Date.now() / 1000) + 3600 },
    { alg: 'RS256', kid: key.kid, typ: 'JWT', nonce: 'signed-over-the-hash' },
    key.privateKey,
  );
  const [, payload, signature] = jwt.split('.');
  const header = Buffer.from(JSON.stringify({ ...decodeProtectedHeader(jwt), nonce: 'sent-in-clear' })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

function graphStub(origin: () => string) {
  return (req: Request, res: Response) => {
    imitation.graphRequests.push({ authorization: req.headers.authorization, consistencyLevel: req.get('consistencylevel'), url: req.originalUrl });
    if (req.headers.authorization !== `Bearer ${imitation.graphToken}`) {
      res.status(401).json({ error: { code: 'InvalidAuthenticationToken' } });
      return;
    }
    const page = Number(req.query.$skiptoken ?? '0');
    const slice = OVERAGE_GROUPS.slice(page * 100, page * 100 + 100);
    const more = (page + 1) * 100 < OVERAGE_GROUPS.length;
    res.json({
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)',
      value: slice.map((id) => ({ '@odata.type': '#microsoft.graph.group', id })),
      ...(more ? { '@odata.nextLink': `${origin()}/graph/v1.0/me/transitiveMemberOf?$select=id&$top=100&$skiptoken=${page + 1}` } : {}),
    });
  };
}

const tenantA = entraOpOptions(TID_A, {
  async setup({ op, app }) {
    // Tenant B: same host (the template issuer has one origin), same keys, its own port.
    const opB = await startOp(entraOpOptions(TID_B, { issuerOrigin: () => op.url }));
    imitation.opB = opB;
    app.use(
      `/${TID_B}`,
      forwardTo(opB.port, () =>
        imitation.stripIssFromB
          ? (location) => {
              if (location.pathname.includes('/auth/callback/')) location.searchParams.delete('iss');
            }
          : undefined,
      ),
    );
    for (const alias of ['common', 'organizations']) {
      app.get(`/${alias}/v2.0/.well-known/openid-configuration`, (req, res, next) =>
        discoveryAlias(
          op.port,
          `/${imitation.templateTenant[alias]}/.well-known/openid-configuration`,
          ({ authorization_response_iss_parameter_supported: _dropped, ...doc }) => ({ ...doc, issuer: `${op.url}/{tenantid}/v2.0` }),
        )(req, res, next),
      );
    }
    // A verified domain as tenant: discovery names the tenant GUID.
    app.get(
      '/contoso.example/v2.0/.well-known/openid-configuration',
      discoveryAlias(op.port, `/${TID_A}/.well-known/openid-configuration`, (d) => d),
    );
    app.get(
      '/graph/v1.0/me/transitiveMemberOf',
      graphStub(() => op.url),
    );
    return () => opB.close();
  },
});

/** `detail` of the last failed login (logs only; never shown to the browser). */
function lastFailure(c: ConformanceContext): string | undefined {
  const line = c.stack.logger.lines.filter((l) => (l.obj as { event?: string }).event === 'login.failed.detail').at(-1);
  return (line?.obj as { detail?: string } | undefined)?.detail;
}

function azure(op: TestOp, more: Record<string, unknown>): Record<string, unknown> {
  return { type: 'azure-ad', name: NAME, authority: op.url, ...clientCredentials, ...more };
}

runConformance({
  title: 'azure-ad (single tenant)',
  op: tenantA,
  connector: (op) => azure(op, { tenant: TID_A }),
  variants: (op) => [
    azure(op, { id: 'common', tenant: 'common', allowedTenants: [TID_A, TID_B] }),
    azure(op, { id: 'orgs', tenant: 'organizations', allowedTenants: [TID_A, TID_B] }),
    azure(op, { id: 'orgs-a-only', tenant: 'organizations', allowedTenants: [TID_A] }),
    azure(op, { id: 'domain', tenant: 'contoso.example' }),
    azure(op, { id: 'overage', tenant: TID_A, groupsOverage: 'graph', graphBaseUrl: `${op.url}/graph` }),
    azure(op, { id: 'overage-ignored', tenant: TID_A }),
  ],
  subject: ALICE_OID,
  scope: 'openid profile email offline_access',
  profile: {
    tid: TID_A,
    email_verified: false,
    name: 'Alice Example',
    given_name: 'Alice',
    family_name: 'Example',
    username: 'alice@contoso.example',
    roles: ['Reports.Read'],
    groups: ['9d1e6f00-0000-4000-8000-000000000101', '9d1e6f00-0000-4000-8000-000000000102'],
  },
  expectLogoutUrl(url, { op, postLogoutRedirectUri }) {
    expect(`${url.origin}${url.pathname}`).toBe(`${op.url}/${TID_A}/oauth2/v2.0/logout`);
    expect(queryOf(url)).toEqual({ post_logout_redirect_uri: postLogoutRedirectUri });
  },
  extraTests(ctx: () => ConformanceContext) {
    beforeAll(async () => {
      const { stack } = ctx();
      // The gateway's Redis client has no offline queue: wait for its connection before the first login.
      await waitFor('gateway Redis connection', async () => (await stack.gateway.health()).redis === 'ready');
      const ids = stack.gateway.config.connectors.map((c) => c.id);
      await imitation.opB!.setRedirectUris(
        DEFAULT_CLIENT_ID,
        ids.map((id) => `${stack.url}/auth/callback/${id}`),
        [`${stack.url}/`],
      );
    });
    afterEach(() => {
      const { op } = ctx();
      op.reset();
      imitation.opB!.reset();
      imitation.stripIssFromB = true;
      imitation.graphRequests.length = 0;
    });

    test('tenant "common": the {tenantid} template is validated against the token tid and the allow-list', async () => {
      const { auth } = await ctx().login('common');
      expect(auth.sub).toBe(`common|${ALICE_OID}`);
      expect(auth.claims.tid).toBe(TID_A);
    });

    test('tenant "organizations": a user of an allowed second tenant signs in with that tenant\'s issuer', async () => {
      const before = imitation.opB!.tokenRequests.length;
      const { auth } = await ctx().login('orgs');
      expect(auth.sub).toBe(`orgs|${ALICE_OID}`);
      expect(auth.claims.tid).toBe(TID_B);
      expect(imitation.opB!.tokenRequests.length).toBe(before + 1);
    });

    test('a tenant outside allowedTenants is rejected (ID token tid), and no session is created', async () => {
      const c = ctx();
      const browser = c.stack.browser();
      const res = await c.attemptLogin('orgs-a-only', browser);
      c.expectErrorPage(res, 403, 'ID_TOKEN_INVALID', 'Accounts of this organization may not sign in here.');
      expect(lastFailure(c)).toBe('tid not in allowedTenants');
      // Real Entra sends no callback iss, so the refusal comes from the ID token after the code exchange.
      expect(imitation.opB!.tokenRequests).toHaveLength(1);
      await c.expectSignedOut(browser);
    });

    test('a tenant outside allowedTenants named by the callback iss is rejected before any token request', async () => {
      imitation.stripIssFromB = false;
      const c = ctx();
      const res = await c.attemptLogin('orgs-a-only');
      c.expectErrorPage(res, 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.');
      expect(lastFailure(c)).toBe('callback iss refused by the preset');
      expect(imitation.opB!.tokenRequests).toHaveLength(0);
    });

    test('an ID token whose iss tenant differs from its tid claim is rejected', async () => {
      const c = ctx();
      // tid B is allowed, but the issuer is tenant A's: the expected issuer is derived from tid, never copied from iss.
      c.op.tamperIdToken = (payload, header) => ({ payload: { ...payload, tid: TID_B }, header });
      const res = await c.attemptLogin('common');
      c.expectErrorPage(res, 502, 'ID_TOKEN_INVALID', "The identity provider's ID token was rejected.");
      expect(lastFailure(c)).toBe('template issuer: unexpected "iss" claim value');
    });

    test('template mode still checks the signature: a token signed with another key is rejected', async () => {
      const c = ctx();
      const other = generateRsaKey(getSharedKey().kid);
      c.op.tamperSigningKey = other.privateKey;
      c.op.tamperIdToken = (payload, header) => ({ payload, header });
      const res = await c.attemptLogin('common');
      c.expectErrorPage(res, 502, 'ID_TOKEN_INVALID', "The identity provider's ID token was rejected.");
      expect(lastFailure(c)).toBe('template issuer: signature verification failed');
    });

    test('a verified domain as tenant accepts the tenant GUID issuer its discovery names', async () => {
      const { auth } = await ctx().login('domain');
      expect(auth.sub).toBe(`domain|${ALICE_OID}`);
      expect(auth.claims.tid).toBe(TID_A);
    });

    test('email_verified stays false even when a guest token says otherwise; identity is oid, not email', async () => {
      const c = ctx();
      c.op.nextLogin = 'guest';
      const { auth } = await c.login();
      expect(auth.sub).toBe(`${c.connectorId}|${GUEST_OID}`);
      expect(auth.claims).toMatchObject({ email: 'gus@partner.example', email_verified: false, tid: TID_A });
    });

    test('group overage resolves through Graph: paged with nextLink, ConsistencyLevel eventual, the opaque token as is', async () => {
      const c = ctx();
      imitation.graphToken = await unverifiableGraphToken();
      // The token really does not verify against the tenant keys.
      await expect(jwtVerify(imitation.graphToken, createLocalJWKSet(getSharedPublicJwks() as { keys: JWK[] }))).rejects.toThrow(
        'signature verification failed',
      );
      c.op.nextLogin = 'overage';
      c.op.tamperTokenResponse = (body) => ({ ...body, access_token: imitation.graphToken });
      const { auth } = await c.login('overage');
      expect(auth.sub).toBe(`overage|${OVERAGE_OID}`);
      expect(auth.claims.groups).toEqual(OVERAGE_GROUPS);
      expect(imitation.graphRequests.map((r) => r.url)).toEqual([
        '/graph/v1.0/me/transitiveMemberOf?$select=id&$top=100',
        '/graph/v1.0/me/transitiveMemberOf?$select=id&$top=100&$skiptoken=1',
        '/graph/v1.0/me/transitiveMemberOf?$select=id&$top=100&$skiptoken=2',
      ]);
      expect(imitation.graphRequests.every((r) => r.authorization === `Bearer ${imitation.graphToken}` && r.consistencyLevel === 'eventual')).toBe(true);
    });

    test('group overage without groupsOverage "graph" signs in without groups and calls nothing', async () => {
      const c = ctx();
      c.op.nextLogin = 'overage';
      const { auth } = await c.login('overage-ignored');
      expect(auth.claims.groups).toBeUndefined();
      expect(imitation.graphRequests).toHaveLength(0);
      expect(c.stack.logger.lines.some((l) => (l.obj as { event?: string }).event === 'connector.groups_overage')).toBe(true);
    });

    test('a failing Graph lookup fails the login with a clear page', async () => {
      const c = ctx();
      imitation.graphToken = 'not-the-token-graph-expects';
      c.op.nextLogin = 'overage';
      const res = await c.attemptLogin('overage');
      c.expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', 'Microsoft Graph refused the group lookup.');
    });

    test('login_hint goes upstream as login_hint plus domain_hint', async () => {
      const c = ctx();
      const res = await c.stack.browser().get(`${c.stack.url}/auth/login/${c.connectorId}?login_hint=${encodeURIComponent('alice@Contoso.Example')}`);
      expect(res.status).toBe(302);
      const url = new URL(res.location!);
      expect(`${url.origin}${url.pathname}`).toBe(`${c.op.url}/${TID_A}/oauth2/v2.0/authorize`);
      expect({ login_hint: url.searchParams.get('login_hint'), domain_hint: url.searchParams.get('domain_hint') }).toEqual({
        login_hint: 'alice@Contoso.Example',
        domain_hint: 'contoso.example',
      });
    });
  },
});

describe('azure-ad configuration', () => {
  const base = { id: 'entra', type: 'azure-ad', clientId: 'c', clientSecret: 's' };

  test('the docs/connectors.md examples are valid as written', () => {
    const examples = docExamples('azure-ad');
    expect(examples.map((e) => e.tenant)).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/), 'organizations']);
    for (const example of examples) expect(connectorProblems(example)).toEqual([]);
  });

  test('multi-tenant without allowedTenants is refused with its path', () => {
    expect(connectorProblems({ ...base, tenant: 'common' })).toEqual([
      { path: 'connectors[0].allowedTenants', message: 'required with tenant "common": list the tenant ids (tid) allowed to sign in' },
    ]);
    expect(connectorProblems({ ...base, tenant: 'organizations' })).toEqual([
      { path: 'connectors[0].allowedTenants', message: 'required with tenant "organizations": list the tenant ids (tid) allowed to sign in' },
    ]);
  });

  test('tenant forms: GUID, domain, common with an allow-list are accepted; junk is refused', () => {
    expect(connectorProblems({ ...base, tenant: TID_A })).toEqual([]);
    expect(connectorProblems({ ...base, tenant: 'contoso.onmicrosoft.com' })).toEqual([]);
    expect(connectorProblems({ ...base, tenant: 'common', allowedTenants: [TID_A] })).toEqual([]);
    expect(connectorProblems({ ...base, tenant: 'contoso/../x' }).map((p) => p.path)).toEqual(['connectors[0].tenant']);
    expect(connectorProblems({ ...base, tenant: 'common', allowedTenants: ['contoso.com'] }).map((p) => p.path)).toEqual(['connectors[0].allowedTenants[0]']);
  });

  test('a GUID tenant must be in its own allow-list; http endpoints need allowInsecureRequests', () => {
    expect(connectorProblems({ ...base, tenant: TID_A, allowedTenants: [TID_C] })).toEqual([
      { path: 'connectors[0].allowedTenants', message: 'must include the configured tenant' },
    ]);
    expect(connectorProblems({ ...base, tenant: TID_A, authority: 'http://127.0.0.1:1' }).map((p) => p.path)).toEqual([
      'connectors[0].issuer',
      'connectors[0].authority',
    ]);
    expect(connectorProblems({ ...base, tenant: TID_A, authority: 'http://127.0.0.1:1' }, { allowInsecureRequests: true })).toEqual([]);
  });
});
