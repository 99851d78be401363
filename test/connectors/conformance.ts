/**
 * The shared conformance suite every connector passes. A vendor test file describes how to run
 * the vendor's local imitation and what to expect; {@link runConformance} registers the same
 * tests for each: login through the real OP and real Redis, the normalized profile, an upstream
 * `access_denied`, upstream logout in the vendor's form, plus the vendor's own failure cases.
 */
import { decodeJwt } from 'jose';
import { escapeHtml } from '../../lib/http/respond.js';
import type { Browser, BrowserResponse, FollowResult } from '../fixtures/browser.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, type OpOptions, type TestOp } from '../fixtures/op.js';
import { startStack, type Stack } from '../fixtures/stack.js';

/** What `/dashboard` (a `requireAuth()` route of the stack) answers: `req.auth` of the request. */
export interface DashboardBody {
  sub: string;
  via: string;
  claims: Record<string, unknown>;
  scope: string[];
}

/** What a case's logout check gets besides the URL. */
export interface LogoutExpectation {
  op: TestOp;
  /** The connector's post-logout URI: the app's `${baseUrl}/` unless the config sets one. */
  postLogoutRedirectUri: string;
  clientId: string;
}

/**
 * One vendor imitation and what the gateway must make of it. Everything the suite cannot know
 * about a vendor is here; everything else (PKCE, state, error pages, session handling) is checked
 * the same way for every vendor.
 */
export interface VendorCase {
  /** Title of the `describe` block, e.g. `"okta (custom authorization server)"`. */
  title: string;
  /**
   * `startOp` options that make the OP look like the vendor (reference section 11): `mountPath`,
   * `issuer`/`issuerTrailingSlash`, `routes`, `claims`, `accounts`, `userinfoOverrides`,
   * `conformIdTokenClaims`, `features`, `configure`, and `setup` for Koa pre/post-middleware,
   * Express stubs on the OP host (e.g. Auth0 `/v2/logout`) or a second host (Cognito).
   * The default client is `DEFAULT_CLIENT_ID`/`DEFAULT_CLIENT_SECRET`; the suite registers the
   * callback URLs of every connector and `${baseUrl}/` as post-logout URI.
   */
  op: OpOptions;
  /**
   * The connector config under test, without `id` (the suite sets `id` to {@link connectorId} and
   * `logout: "upstream"`). Called once the imitation runs; `baseUrl` is the app's origin.
   * Set `clientId`/`clientSecret` from `DEFAULT_CLIENT_ID`/`DEFAULT_CLIENT_SECRET` (see {@link clientCredentials}).
   */
  connector(op: TestOp, baseUrl: string): Record<string, unknown>;
  /** Connector id of the case's connector. Default `"idp"`. */
  connectorId?: string;
  /**
   * More connectors (each with its own `id`) in the same gateway, for the vendor's own tests,
   * e.g. the same vendor with `userinfo: false`. Log in with `ctx().login(id)`.
   */
  variants?(op: TestOp, baseUrl: string): Record<string, unknown>[];
  /** The upstream `sub` of the test user; the local subject is `${connectorId}|${subject}`. */
  subject: string;
  /**
   * The complete normalized profile the gateway must produce, every mapped claim except `sub`
   * (compared with `toEqual`, so a missing or an extra claim fails).
   */
  profile: Record<string, unknown>;
  /** The `scope` the gateway must send upstream. Default `"openid profile email"`. */
  scope?: string;
  /**
   * Asserts the upstream logout URL is in the vendor's form (endpoint and exact parameters). After
   * it, the suite follows the URL through the imitation (submitting oidc-provider's confirmation
   * form when one appears), expects to land on the post-logout URI, and expects the next login to
   * prompt for credentials again.
   */
  expectLogoutUrl(url: URL, expected: LogoutExpectation): void;
  /**
   * Registers the vendor's own tests (failure cases, quirks) inside the suite's `describe`. `ctx`
   * is only usable inside tests (the stack starts in `beforeAll`).
   */
  extraTests?(ctx: () => ConformanceContext): void;
}

/** The running suite, for a case's {@link VendorCase.extraTests}. */
export interface ConformanceContext {
  stack: Stack;
  op: TestOp;
  /** Id of the case's connector. */
  connectorId: string;
  /** Display name of the case's connector (as used in error messages). */
  connectorName: string;
  /** `${connectorId}|${subject}`. */
  localSub: string;
  /** Starts a login at `/auth/login/{connectorId}` (returnTo `/dashboard`) and follows every redirect. */
  attemptLogin(connectorId?: string, browser?: Browser): Promise<FollowResult>;
  /** {@link attemptLogin} that must end signed in on `/dashboard`; returns the browser and `req.auth`. */
  login(connectorId?: string, browser?: Browser): Promise<{ browser: Browser; auth: DashboardBody }>;
  /** Asserts a fedgate HTML error page: status, `code` and `message` together. */
  expectErrorPage(res: BrowserResponse, status: number, code: string, message: string): void;
  /** Asserts `browser` holds no session at the gateway. */
  expectSignedOut(browser: Browser): Promise<void>;
}

/** The client credentials of the imitation's default client, for `VendorCase.connector`. */
export const clientCredentials = { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET } as const;

/** Registers the conformance suite for one vendor case (call at the top level of a test file). */
export function runConformance(vendorCase: VendorCase): void {
  const connectorId = vendorCase.connectorId ?? 'idp';
  let connectorName = connectorId;
  let stack: Stack;

  const ctx: ConformanceContext = {
    get stack() {
      return stack;
    },
    get op() {
      return stack.op;
    },
    connectorId,
    get connectorName() {
      return connectorName;
    },
    localSub: `${connectorId}|${vendorCase.subject}`,
    async attemptLogin(id = connectorId, browser = stack.browser()) {
      return browser.follow(`${stack.url}/auth/login/${id}?returnTo=%2Fdashboard`, { maxRedirects: 20 });
    },
    async login(id = connectorId, browser = stack.browser()) {
      const res = await ctx.attemptLogin(id, browser);
      if (res.status !== 200 || res.url !== `${stack.url}/dashboard`) {
        throw new Error(`login did not complete: ${res.status} at ${res.url}: ${res.body.slice(0, 400)}`);
      }
      return { browser, auth: res.json<DashboardBody>() };
    },
    expectErrorPage(res, status, code, message) {
      expect({ status: res.status, code: /<code>([A-Z_]+)<\/code>/.exec(res.body)?.[1] }).toEqual({ status, code });
      expect(res.body).toContain(`<p>${escapeHtml(message)}</p>`);
    },
    async expectSignedOut(browser) {
      const res = await browser.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } });
      expect({ status: res.status, body: res.json() }).toEqual({
        status: 401,
        body: { error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' },
      });
    },
  };

  describe(`${vendorCase.title}: conformance`, () => {
    beforeAll(async () => {
      stack = await startStack({
        op: vendorCase.op,
        config: (config, op) => {
          const main: Record<string, unknown> = { ...vendorCase.connector(op, String(config.baseUrl)), id: connectorId, logout: 'upstream' };
          connectorName = typeof main.name === 'string' ? main.name : connectorId;
          config.connectors = [main, ...(vendorCase.variants?.(op, String(config.baseUrl)) ?? [])] as typeof config.connectors;
        },
      });
    });
    afterAll(async () => {
      await stack?.close();
    });

    test('login completes through the real OP and Redis, with PKCE, state, nonce and the vendor scopes', async () => {
      const { auth } = await ctx.login();
      expect(auth.sub).toBe(ctx.localSub);
      expect(auth.via).toBe('session');
      const authz = stack.op.authorizationRequests.at(-1)!;
      expect({
        client_id: authz.get('client_id'),
        redirect_uri: authz.get('redirect_uri'),
        response_type: authz.get('response_type'),
        scope: authz.get('scope'),
        code_challenge_method: authz.get('code_challenge_method'),
      }).toEqual({
        client_id: DEFAULT_CLIENT_ID,
        redirect_uri: `${stack.url}/auth/callback/${connectorId}`,
        response_type: 'code',
        scope: vendorCase.scope ?? 'openid profile email',
        code_challenge_method: 'S256',
      });
      expect(authz.get('state')!.length).toBeGreaterThanOrEqual(43);
      expect(authz.get('nonce')).toBeTruthy();
      expect(stack.op.tokenRequests.at(-1)!.get('code_verifier')).toBeTruthy();
    });

    test('the normalized profile is right in req.auth.claims and /auth/userinfo', async () => {
      const { browser, auth } = await ctx.login();
      const expected = { ...vendorCase.profile, sub: ctx.localSub };
      expect(auth.claims).toEqual(expected);
      const info = await browser.get(`${stack.url}/auth/userinfo`, { headers: { accept: 'application/json' } });
      expect(info.status).toBe(200);
      expect(info.json()).toEqual(expected);
      // email_verified is never true without proof, and always a boolean when mapped.
      if ('email_verified' in expected) expect(typeof expected.email_verified).toBe('boolean');
    });

    test('an upstream access_denied becomes a clear 400 page and no session', async () => {
      stack.op.nextInteractionError = 'access_denied';
      const browser = stack.browser();
      const res = await ctx.attemptLogin(connectorId, browser);
      expect(res.url.startsWith(`${stack.url}/auth/callback/${connectorId}?`)).toBe(true);
      ctx.expectErrorPage(res, 400, 'UPSTREAM_AUTHORIZATION_ERROR', `${connectorName} did not complete the sign-in (access_denied).`);
      await ctx.expectSignedOut(browser);
    });

    test('logout "upstream" ends the local session, then sends the browser to the vendor logout in its form', async () => {
      const { browser } = await ctx.login();
      const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
      expect(out.status).toBe(302);
      const location = new URL(out.location!);
      vendorCase.expectLogoutUrl(location, { op: stack.op, postLogoutRedirectUri: `${stack.url}/`, clientId: DEFAULT_CLIENT_ID });
      // The local session is gone before the browser reaches the upstream.
      await ctx.expectSignedOut(browser);

      let landed = await browser.follow(location.href);
      if (landed.status === 200 && !landed.url.startsWith(stack.url) && /<form/i.test(landed.body)) {
        // oidc-provider's RP-initiated logout asks for confirmation (reference 11.0).
        landed = await browser.submitForm(landed, { logout: 'yes' });
      }
      expect({ status: landed.status, url: landed.url, body: landed.body }).toEqual({ status: 200, url: `${stack.url}/`, body: 'hello' });

      // The upstream session ended too: the next login asks for credentials again.
      const before = stack.op.interactions.length;
      await ctx.login(connectorId, browser);
      expect(stack.op.interactions.slice(before).map((i) => i.prompt)).toContain('login');
    });

    vendorCase.extraTests?.(() => ctx);
  });
}

/** Decodes the payload of a JWT query parameter (for `id_token_hint` checks); undefined when absent. */
export function jwtParam(url: URL, name: string): Record<string, unknown> | undefined {
  const value = url.searchParams.get(name);
  return value === null ? undefined : { ...decodeJwt(value) };
}

/** The query of `url` as a plain object, for exact parameter assertions (JWT values replaced by `"<jwt>"`). */
export function queryOf(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) out[k] = /^[\w-]+\.[\w-]+\.[\w-]*$/.test(v) ? '<jwt>' : v;
  return out;
}
