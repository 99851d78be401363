/**
 * azure-b2c: conformance plus the vendor's quirks. One instance per policy
 * (sign-in here, password reset on its own port behind the same host), both with the issuer
 * `{origin}/{tenantGuid}/v2.0/` that never equals the per-policy discovery URL.
 */
import type { Request, Response, NextFunction } from 'express';
import { DEFAULT_CLIENT_ID, startOp, type OpOptions, type TestOp } from '../fixtures/op.js';
import { clientCredentials, queryOf, runConformance, type ConformanceContext } from './conformance.js';
import { discoveryAlias, forwardTo, getJson } from './azure-imitation.js';
import { connectorProblems, docExamples } from './config-check.js';
import { builtinConnectors } from '../../connectors/registry.js';
import { recordingLogger } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/ports.js';

const TENANT = 'contosob2c';
const TENANT_ID = '5b2c0000-0000-4000-8000-0000000000b2';
const OTHER_TENANT_ID = '5b2c0000-0000-4000-8000-0000000000ff';
const SIGN_IN = 'B2C_1_signupsignin';
const RESET = 'B2C_1_passwordreset';
const NAME = 'Contoso customers';

const imitation = {
  reset: undefined as TestOp | undefined,
  /** One-shot: the sign-in policy's authorize answers with this B2C error code instead. */
  nextError: undefined as 'AADB2C90118' | 'AADB2C90091' | undefined,
};

const descriptions = {
  AADB2C90118: 'AADB2C90118: The user has forgotten their password.\r\nCorrelation ID: 0e0b0e1e\r\nTimestamp: 2025-01-01 00:00:00Z',
  AADB2C90091: 'AADB2C90091: The user has cancelled entering self-asserted information.',
};

/** One B2C policy: mounted at `/{tenant}.onmicrosoft.com/{policy}`, Microsoft's discovery URL shapes, no userinfo. */
function policyOptions(policy: string, more: { issuerOrigin?: () => string; setup?: OpOptions['setup'] } = {}): OpOptions {
  const mount = `/${TENANT}.onmicrosoft.com/${policy}`;
  return {
    mountPath: mount,
    issuer: (origin) => `${more.issuerOrigin?.() ?? origin}/${TENANT_ID}/v2.0/`,
    routes: { authorization: '/oauth2/v2.0/authorize', token: '/oauth2/v2.0/token', end_session: '/oauth2/v2.0/logout', jwks: '/discovery/v2.0/keys' },
    userinfo: false,
    claims: { openid: ['emails', 'email', 'name', 'given_name', 'family_name', 'tfp', 'oid', 'idp', 'extension_loyaltyId', 'ver'] },
    accounts: {
      alice: {
        emails: ['alice@example.com', 'alice.second@example.com'],
        name: 'Alice Example',
        given_name: 'Alice',
        family_name: 'Example',
        tfp: policy,
        oid: 'a11ce000-0000-4000-8000-0000000000b2',
        idp: 'local',
        extension_loyaltyId: 'L-42',
        ver: '1.0',
      },
      social: { email: 'sam@social.example', name: 'Sam Social', tfp: policy, idp: 'google.com', ver: '1.0' },
    },
    offlineAccessForcesConsent: true,
    async setup(ctx) {
      const { op, app } = ctx;
      // Real B2C discovery lists no RFC 9207 support (its redirects carry no `iss`).
      const strip = ({ authorization_response_iss_parameter_supported: _dropped, ...doc }: Record<string, unknown>) => doc;
      app.get(`${mount}/v2.0/.well-known/openid-configuration`, discoveryAlias(op.port, `${mount}/.well-known/openid-configuration`, strip));
      return more.setup?.(ctx);
    },
  };
}

const signInPolicy = policyOptions(SIGN_IN, {
  async setup({ op, app }) {
    const reset = await startOp(policyOptions(RESET, { issuerOrigin: () => op.url }));
    imitation.reset = reset;
    app.use(`/${TENANT}.onmicrosoft.com/${RESET}`, forwardTo(reset.port));
    // The legacy `?p={policy}` discovery form (11.4), same mismatch.
    app.get(`/${TENANT}.onmicrosoft.com/v2.0/.well-known/openid-configuration`, (req: Request, res: Response) => {
      discoveryAlias(op.port, `/${TENANT}.onmicrosoft.com/${String(req.query.p)}/.well-known/openid-configuration`, (d) => d)(req, res, () => undefined);
    });
    // B2C reports "forgot password" and "cancel" on the redirect URI as access_denied.
    app.get(`/${TENANT}.onmicrosoft.com/${SIGN_IN}/oauth2/v2.0/authorize`, (req: Request, res: Response, next: NextFunction) => {
      const code = imitation.nextError;
      if (!code) {
        next();
        return;
      }
      imitation.nextError = undefined;
      const target = new URL(String(req.query.redirect_uri));
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', descriptions[code]);
      target.searchParams.set('state', String(req.query.state));
      res.redirect(302, target.href);
    });
    return () => reset.close();
  },
});

function b2c(op: TestOp, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'azure-b2c',
    name: NAME,
    tenant: TENANT,
    tenantId: TENANT_ID,
    policy: SIGN_IN,
    passwordResetPolicy: RESET,
    authority: op.url,
    ...clientCredentials,
    ...more,
  };
}

function lastFailure(c: ConformanceContext): string | undefined {
  const line = c.stack.logger.lines.filter((l) => (l.obj as { event?: string }).event === 'login.failed.detail').at(-1);
  return (line?.obj as { detail?: string } | undefined)?.detail;
}

runConformance({
  title: 'azure-b2c',
  op: signInPolicy,
  connector: (op) => b2c(op),
  variants: (op) => [b2c(op, { id: 'no-reset', passwordResetPolicy: undefined })],
  subject: 'alice',
  scope: 'openid offline_access',
  profile: { email: 'alice@example.com', email_verified: false, name: 'Alice Example', given_name: 'Alice', family_name: 'Example' },
  expectLogoutUrl(url, { op, postLogoutRedirectUri }) {
    expect(`${url.origin}${url.pathname}`).toBe(`${op.url}/${TENANT}.onmicrosoft.com/${SIGN_IN}/oauth2/v2.0/logout`);
    expect(queryOf(url)).toEqual({ post_logout_redirect_uri: postLogoutRedirectUri, id_token_hint: '<jwt>' });
  },
  extraTests(ctx: () => ConformanceContext) {
    beforeAll(async () => {
      const { stack } = ctx();
      // The gateway's Redis client has no offline queue: wait for its connection before the first login.
      await waitFor('gateway Redis connection', async () => (await stack.gateway.health()).redis === 'ready');
      const ids = stack.gateway.config.connectors.map((c) => c.id);
      await imitation.reset!.setRedirectUris(
        DEFAULT_CLIENT_ID,
        ids.map((id) => `${stack.url}/auth/callback/${id}`),
        [`${stack.url}/`],
      );
    });
    afterEach(() => {
      ctx().op.reset();
      imitation.reset!.reset();
      imitation.nextError = undefined;
    });

    test('the per-policy discovery names an issuer that is not its URL, and sign-in works with it', async () => {
      const { op } = ctx();
      const doc = await getJson(op.port, `/${TENANT}.onmicrosoft.com/${SIGN_IN}/v2.0/.well-known/openid-configuration`, `127.0.0.1:${op.port}`);
      expect(doc.issuer).toBe(`${op.url}/${TENANT_ID}/v2.0/`);
      const legacy = await getJson(op.port, `/${TENANT}.onmicrosoft.com/v2.0/.well-known/openid-configuration?p=${SIGN_IN}`, `127.0.0.1:${op.port}`);
      expect(legacy.issuer).toBe(doc.issuer);
      const { auth } = await ctx().login();
      expect(auth.sub).toBe('idp|alice');
    });

    test("a discovery document naming another tenant's issuer is refused", async () => {
      const c = ctx();
      // Built outside the gateway: its health probe would already have put a gateway connector in backoff.
      const type = builtinConnectors.get('azure-b2c')!;
      const connector = type.create(type.schema.parse({ ...b2c(c.op, { tenantId: OTHER_TENANT_ID }), id: 'wrong-tenant' }), {
        fetch,
        logger: recordingLogger(),
        now: Date.now,
        allowInsecureRequests: true,
        httpTimeout: 3,
        baseUrl: c.stack.url,
      });
      await expect(connector.ready()).rejects.toMatchObject({
        code: 'UPSTREAM_RESPONSE_INVALID',
        message: `${NAME} discovery names another issuer than configured.`,
      });
      expect(connector.status()).toMatchObject({ id: 'wrong-tenant', state: 'failed', error: 'UPSTREAM_RESPONSE_INVALID' });
    });

    test('an ID token with another issuer (the tfp form) is rejected', async () => {
      const c = ctx();
      c.op.tamperIdToken = (payload, header) => ({ payload: { ...payload, iss: `${c.op.url}/tfp/${TENANT_ID}/${SIGN_IN}/v2.0/` }, header });
      const browser = c.stack.browser();
      const res = await c.attemptLogin(c.connectorId, browser);
      c.expectErrorPage(res, 502, 'ID_TOKEN_INVALID', "The identity provider's ID token was rejected.");
      expect(lastFailure(c)).toMatch(/"iss"/);
      await c.expectSignedOut(browser);
    });

    test('AADB2C90118 ("forgot password") restarts the login with the reset policy, same returnTo', async () => {
      const c = ctx();
      imitation.nextError = 'AADB2C90118';
      const res = await c.attemptLogin();
      expect({ status: res.status, url: res.url }).toEqual({ status: 200, url: `${c.stack.url}/dashboard` });
      const resetAuthz = imitation.reset!.authorizationRequests;
      expect(resetAuthz).toHaveLength(1);
      expect({ redirect_uri: resetAuthz[0]!.get('redirect_uri'), method: resetAuthz[0]!.get('code_challenge_method') }).toEqual({
        redirect_uri: `${c.stack.url}/auth/callback/${c.connectorId}`,
        method: 'S256',
      });
      // The new login has its own state and nonce.
      expect(resetAuthz[0]!.get('state')).not.toBe(new URL(res.chain.find((u) => u.includes('error=access_denied'))!).searchParams.get('state'));
      expect(imitation.reset!.tokenRequests).toHaveLength(1);
      expect(c.op.tokenRequests).toHaveLength(0);
      expect(res.json<{ sub: string; claims: Record<string, unknown> }>()).toMatchObject({ sub: 'idp|alice', claims: { email: 'alice@example.com' } });
      expect(c.stack.logger.lines.some((l) => (l.obj as { event?: string }).event === 'login.restarted')).toBe(true);
    });

    test('AADB2C90118 without a passwordResetPolicy is a clear page', async () => {
      const c = ctx();
      imitation.nextError = 'AADB2C90118';
      const res = await c.attemptLogin('no-reset');
      c.expectErrorPage(res, 400, 'UPSTREAM_AUTHORIZATION_ERROR', `${NAME} cannot reset the password here. Please contact support.`);
    });

    test('AADB2C90091 (cancelled) is a clear page and no session', async () => {
      const c = ctx();
      imitation.nextError = 'AADB2C90091';
      const browser = c.stack.browser();
      const res = await c.attemptLogin(c.connectorId, browser);
      c.expectErrorPage(res, 400, 'UPSTREAM_AUTHORIZATION_ERROR', `The sign-in with ${NAME} was cancelled.`);
      expect(c.op.tokenRequests).toHaveLength(0);
      await c.expectSignedOut(browser);
    });

    test('email comes from emails[0], else from email (social accounts); never verified', async () => {
      const c = ctx();
      c.op.nextLogin = 'social';
      const { auth } = await c.login();
      expect(auth.claims).toEqual({ sub: 'idp|social', email: 'sam@social.example', email_verified: false, name: 'Sam Social' });
    });
  },
});

describe('azure-b2c configuration', () => {
  const base = { id: 'b2c', type: 'azure-b2c', clientId: 'c', tenant: TENANT, tenantId: TENANT_ID, policy: SIGN_IN };

  test('the docs/connectors.md example is valid as written', () => {
    const examples = docExamples('azure-b2c');
    expect(examples).toHaveLength(1);
    expect(connectorProblems(examples[0]!)).toEqual([]);
  });

  test('tenant, tenantId and policy are required and checked', () => {
    expect(connectorProblems(base)).toEqual([]);
    expect(
      connectorProblems({ id: 'b2c', type: 'azure-b2c', clientId: 'c' })
        .map((p) => p.path)
        .sort(),
    ).toEqual(['connectors[0].policy', 'connectors[0].tenant', 'connectors[0].tenantId']);
    expect(connectorProblems({ ...base, tenant: 'contoso.onmicrosoft.com' }).map((p) => p.path)).toEqual(['connectors[0].tenant']);
  });

  test('the reset policy must differ; there is no userinfo to pull', () => {
    expect(connectorProblems({ ...base, passwordResetPolicy: SIGN_IN.toLowerCase() })).toEqual([
      { path: 'connectors[0].passwordResetPolicy', message: 'must differ from policy' },
    ]);
    expect(connectorProblems({ ...base, userinfo: true })).toEqual([{ path: 'connectors[0].userinfo', message: 'B2C user flows have no userinfo endpoint' }]);
  });
});
