/**
 * github: OAuth 2.0 only, against the Express stub of reference 11.6. GitHub has no OP, so the
 * OP-based conformance suite does not apply as is; the same points are checked here directly:
 * login with PKCE and state, the normalized profile, an upstream access_denied, logout (local
 * only), plus GitHub's own quirks.
 */
import { builtinConnectors } from '../../connectors/registry.js';
import { FedgateError } from '../../lib/errors.js';
import { githubUrls } from '../../connectors/github/connector.js';
import { canRefresh, type ConnectorContext, type Refreshable } from '../../lib/connector.js';
import { escapeHtml } from '../../lib/http/respond.js';
import type { BrowserResponse } from '../fixtures/browser.js';
import { recordingLogger, startStack, type Stack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/ports.js';
import { connectorProblems, docExamples } from './config-check.js';
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, githubConnectorConfig, startGithubStub, type GithubStub } from './github-stub.js';

let stub: GithubStub;
let stack: Stack;

beforeAll(async () => {
  stub = await startGithubStub();
  stack = await startStack({
    config: (config) => {
      config.connectors = [
        { ...githubConnectorConfig(stub), id: 'gh', logout: 'upstream' },
        { ...githubConnectorConfig(stub, { name: 'GitHub (teams)', teams: true }), id: 'gh-teams' },
      ] as typeof config.connectors;
    },
  });
  // The gateway's Redis client has no offline queue: wait for its connection before the first login.
  await waitFor('gateway Redis connection', async () => (await stack.gateway.health()).redis === 'ready');
});
afterAll(async () => {
  await stack?.close();
  await stub?.close();
});
afterEach(() => stub.reset());

interface DashboardBody {
  sub: string;
  claims: Record<string, unknown>;
}

function attempt(id = 'gh', browser = stack.browser()) {
  return browser.follow(`${stack.url}/auth/login/${id}?returnTo=%2Fdashboard`, { maxRedirects: 20 });
}

async function login(id = 'gh', browser = stack.browser()) {
  const res = await attempt(id, browser);
  if (res.status !== 200 || res.url !== `${stack.url}/dashboard`)
    throw new Error(`login did not complete: ${res.status} at ${res.url}: ${/<main>(.*)<\/main>/s.exec(res.body)?.[1] ?? res.body.slice(0, 300)}`);
  return { browser, auth: res.json<DashboardBody>() };
}

function expectErrorPage(res: BrowserResponse, status: number, code: string, message: string): void {
  expect({ status: res.status, code: /<code>([A-Z_]+)<\/code>/.exec(res.body)?.[1] }).toEqual({ status, code });
  expect(res.body).toContain(`<p>${escapeHtml(message)}</p>`);
}

async function expectSignedOut(browser: ReturnType<Stack['browser']>): Promise<void> {
  const res = await browser.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } });
  expect({ status: res.status, body: res.json() }).toEqual({
    status: 401,
    body: { error: 'unauthorized', code: 'UNAUTHORIZED', message: 'Sign in to continue.' },
  });
}

const PROFILE = {
  sub: 'gh|12345',
  email: 'octocat@example.com',
  email_verified: true,
  name: 'octocat',
  picture: 'https://avatars.githubusercontent.com/u/12345?v=4',
  username: 'octocat',
};

describe('github: login and profile', () => {
  test('login completes with PKCE S256, state and the default scopes; token call asks for JSON', async () => {
    const { auth } = await login();
    expect(auth.sub).toBe('gh|12345');
    const authz = stub.authorizeRequests.at(-1)!;
    expect({
      client_id: authz.get('client_id'),
      redirect_uri: authz.get('redirect_uri'),
      scope: authz.get('scope'),
      code_challenge_method: authz.get('code_challenge_method'),
    }).toEqual({ client_id: GITHUB_CLIENT_ID, redirect_uri: `${stack.url}/auth/callback/gh`, scope: 'read:user user:email', code_challenge_method: 'S256' });
    expect(authz.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authz.get('state')!.length).toBeGreaterThanOrEqual(43);
    const token = stub.tokenRequests.at(-1)!;
    expect(token.headers.accept).toBe('application/json');
    expect(token.headers['user-agent']).toBe('fedgate');
    expect(token.body).toMatchObject({ client_id: GITHUB_CLIENT_ID, client_secret: GITHUB_CLIENT_SECRET, redirect_uri: `${stack.url}/auth/callback/gh` });
    expect(token.body!.code_verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // API calls carry User-Agent, Bearer and GitHub's media type.
    for (const r of stub.apiRequests) {
      expect({ ua: r.headers['user-agent'], accept: r.headers.accept, auth: String(r.headers.authorization).startsWith('Bearer gho_') }).toEqual({
        ua: 'fedgate',
        accept: 'application/vnd.github+json',
        auth: true,
      });
    }
  });

  test('the normalized profile: numeric id as subject, verified primary e-mail from a paged /user/emails, name falls back to login', async () => {
    const { browser, auth } = await login();
    expect(auth.claims).toEqual(PROFILE);
    // The primary address is on page 2 (two per page): the Link header was followed.
    expect(stub.apiRequests.map((r) => r.path)).toEqual(['/api/user', '/api/user/emails?per_page=100', '/api/user/emails?per_page=2&page=2']);
    const info = await browser.get(`${stack.url}/auth/userinfo`, { headers: { accept: 'application/json' } });
    expect(info.json()).toEqual(PROFILE);
  });

  test("a form-encoded token response (GitHub's default) is read", async () => {
    stub.forceForm = true;
    const { auth } = await login();
    expect(auth.claims).toEqual(PROFILE);
  });

  test('a JSON token response with a wrong Content-Type is read', async () => {
    stub.wrongContentType = true;
    const { auth } = await login();
    expect(auth.sub).toBe('gh|12345');
  });

  test('without a verified primary address, email_verified is false and only the public profile e-mail is used', async () => {
    const user = stub.users.get('octocat')!;
    user.email = 'public@example.com';
    user.name = 'The Octocat';
    user.emails = user.emails.map((e) => ({ ...e, verified: e.primary ? false : e.verified }));
    const { auth } = await login();
    expect(auth.claims).toEqual({ ...PROFILE, email: 'public@example.com', email_verified: false, name: 'The Octocat' });
  });

  test('teams: true adds read:org and maps org:team groups across pages', async () => {
    const { auth } = await login('gh-teams');
    expect(stub.authorizeRequests.at(-1)!.get('scope')).toBe('read:user user:email read:org');
    expect(auth.claims.groups).toEqual(['acme:devs', 'acme:ops', 'octo-org:maintainers']);
    expect(stub.apiRequests.filter((r) => r.path.startsWith('/api/user/teams'))).toHaveLength(2);
  });
});

describe('github: failures', () => {
  test('a token error returned with HTTP 200 (bad_verification_code) is a coded failure, no session', async () => {
    stub.nextTokenError = 'bad_verification_code';
    const browser = stack.browser();
    const res = await attempt('gh', browser);
    expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', 'The identity provider refused the request (bad_verification_code).');
    expect(stub.apiRequests).toHaveLength(0);
    await expectSignedOut(browser);
  });

  test('the same error form-encoded is a coded failure too', async () => {
    stub.nextTokenError = 'bad_verification_code';
    stub.forceForm = true;
    const res = await attempt();
    expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', 'The identity provider refused the request (bad_verification_code).');
  });

  test('access_denied at the authorization step is a clear 400 page', async () => {
    stub.nextAuthorizeError = 'access_denied';
    const browser = stack.browser();
    const res = await attempt('gh', browser);
    expect(res.url.startsWith(`${stack.url}/auth/callback/gh?`)).toBe(true);
    expectErrorPage(res, 400, 'UPSTREAM_AUTHORIZATION_ERROR', 'GitHub did not complete the sign-in (access_denied).');
    expect(stub.tokenRequests).toHaveLength(0);
    await expectSignedOut(browser);
  });

  test('every API request carries a User-Agent (GitHub refuses requests without one)', async () => {
    stub.apiRequests.length = 0;
    await login();
    expect(stub.apiRequests.length).toBeGreaterThan(0);
    expect(stub.apiRequests.map((r) => r.headers['user-agent'])).toEqual(stub.apiRequests.map(() => 'fedgate'));
  });

  test('an oversized API response is refused before parsing', async () => {
    stub.userPadding = 600 * 1024;
    const res = await attempt();
    expectErrorPage(res, 502, 'UPSTREAM_RESPONSE_INVALID', 'The identity provider sent a response that is too large.');
  });

  test('a callback carrying an RFC 9207 iss (GitHub sends none) is refused before any token request', async () => {
    const browser = stack.browser();
    const res = await browser.follow(`${stack.url}/auth/login/gh?returnTo=%2Fdashboard`, { stopAt: (u) => u.pathname === '/auth/callback/gh' });
    const callback = new URL(res.stoppedAt!);
    callback.searchParams.set('iss', 'https://evil.example');
    const answer = await browser.get(callback.href);
    expectErrorPage(answer, 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.');
    expect(stub.tokenRequests).toHaveLength(0);
  });
});

describe('github: logout and refresh', () => {
  test('logout "upstream" is local only: the session ends and the browser stays on the app', async () => {
    const { browser } = await login();
    const out = await browser.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect({ status: out.status, location: out.location }).toEqual({ status: 302, location: `${stack.url}/` });
    await expectSignedOut(browser);
  });

  test('GitHub App tokens: expiry is recorded and refresh rotates the refresh token, same user', async () => {
    const connector = githubRefresher();
    const { refreshToken } = stub.issue('octocat');
    stub.appMode = true;
    const identity = await connector.refresh({ refreshToken, original: { subject: '12345', claims: {}, tokens: {} } });
    expect(identity.subject).toBe('12345');
    expect(identity.tokens.refreshToken).toMatch(/^ghr_/);
    expect(identity.tokens.refreshToken).not.toBe(refreshToken);
    expect(identity.tokens.expiresAt).toBe(1_700_000_000 + 28800);
    // The old refresh token was rotated away: using it again ends the session.
    await expect(connector.refresh({ refreshToken, original: { subject: '12345', claims: {}, tokens: {} } })).rejects.toMatchObject({
      code: 'REFRESH_REJECTED',
      message: 'The identity provider ended the session.',
    });
  });

  test('a rotated refresh token is saved before /user is asked, so an API outage right after loses nothing', async () => {
    const connector = githubRefresher();
    const { refreshToken } = stub.issue('octocat');
    stub.appMode = true;
    const saved: string[] = [];
    const saveTokens = async (t: { refreshToken?: string }) => {
      if (t.refreshToken) saved.push(t.refreshToken);
    };
    stub.nextApiStatus = 502;
    await expect(connector.refresh({ refreshToken, original: { subject: '12345', claims: {}, tokens: {} }, saveTokens })).rejects.toBeInstanceOf(FedgateError);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatch(/^ghr_/);
    expect(saved[0]).not.toBe(refreshToken);
    // The saved (rotated) token still works; the old one was rotated away.
    const identity = await connector.refresh({ refreshToken: saved[0]!, original: { subject: '12345', claims: {}, tokens: {} } });
    expect(identity.subject).toBe('12345');
  });

  test('a refresh that returns another GitHub user is refused', async () => {
    const connector = githubRefresher();
    const { refreshToken } = stub.issue('octocat');
    await expect(connector.refresh({ refreshToken, original: { subject: '999', claims: {}, tokens: {} } })).rejects.toMatchObject({
      code: 'REFRESH_REJECTED',
      message: 'The identity provider returned another identity.',
    });
  });
});

/** A github connector built from a validated entry, as the gateway builds it, seen through its refresh capability. */
function githubRefresher(): Refreshable {
  const type = builtinConnectors.get('github')!;
  const connector = type.create(type.schema.parse({ ...githubConnectorConfig(stub), id: 'gh' }), connectorContext());
  if (!canRefresh(connector)) throw new Error('a github connector can refresh');
  return connector;
}

function connectorContext(): ConnectorContext {
  return { fetch, logger: recordingLogger(), now: () => 1_700_000_000_000, allowInsecureRequests: true, httpTimeout: 3, baseUrl: 'http://127.0.0.1:1' };
}

describe('github: configuration', () => {
  const base = { id: 'gh', type: 'github', clientId: 'Iv1.x', clientSecret: 's' };

  test('the docs/connectors.md example is valid as written', () => {
    const examples = docExamples('github');
    expect(examples).toHaveLength(1);
    expect(connectorProblems(examples[0]!)).toEqual([]);
  });

  test('GitHub Enterprise Server URLs derive from enterpriseUrl; overrides win', () => {
    expect(githubUrls({})).toEqual({
      authorize: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      api: 'https://api.github.com',
    });
    expect(githubUrls({ enterpriseUrl: 'https://github.example.com/' })).toEqual({
      authorize: 'https://github.example.com/login/oauth/authorize',
      token: 'https://github.example.com/login/oauth/access_token',
      api: 'https://github.example.com/api/v3',
    });
    expect(githubUrls({ enterpriseUrl: 'https://github.example.com', apiBaseUrl: 'https://api.example.com/' }).api).toBe('https://api.example.com');
  });

  test('a client secret is required; OIDC-only keys are refused', () => {
    expect(connectorProblems(base)).toEqual([]);
    expect(connectorProblems({ ...base, clientSecret: undefined })).toEqual([
      { path: 'connectors[0].clientSecret', message: 'required: GitHub OAuth apps authenticate with a client secret' },
    ]);
    expect(connectorProblems({ ...base, userinfo: true }).map((p) => p.path)).toEqual(['connectors[0].userinfo']);
    expect(connectorProblems({ ...base, authorizationParams: { state: 'x' } }).map((p) => p.path)).toEqual(['connectors[0].authorizationParams.state']);
  });

  test('http endpoints need allowInsecureRequests', () => {
    expect(connectorProblems({ ...base, enterpriseUrl: 'http://ghe.local' }).map((p) => p.path)).toEqual([
      'connectors[0].enterpriseUrl',
      'connectors[0].authorizeUrl',
      'connectors[0].tokenUrl',
      'connectors[0].apiBaseUrl',
    ]);
    expect(connectorProblems({ ...base, enterpriseUrl: 'http://ghe.local' }, { allowInsecureRequests: true })).toEqual([]);
  });
});
