/**
 * Several connectors at once: the chooser page (default and custom), the JSON answer for API
 * clients, home-realm discovery by `login_hint`, and the mix-up defence (a callback on another
 * connector's path, or naming another issuer, is refused without any token request).
 * Connectors: `corp` (generic OIDC, the stack's OP), `entra` (azure-ad, an Entra tenant imitation)
 * and `gh` (github, the Express stub).
 */
import { escapeHtml } from '../../lib/http/respond.js';
import type { BrowserResponse } from '../fixtures/browser.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startOp, type TestOp } from '../fixtures/op.js';
import { startStack, type Stack, type StackOptions } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/ports.js';
import { entraAccounts, entraOpOptions } from '../connectors/azure-imitation.js';
import { githubConnectorConfig, startGithubStub, type GithubStub } from '../connectors/github-stub.js';

const TID = '3c0a0000-0000-4000-8000-0000000000e1';
const GH_NAME = 'GitHub <Enterprise> & "Co"';

let entraOp: TestOp;
let gh: GithubStub;
let stack: Stack;
let custom: Stack;

function multiConfig(extra: Partial<StackOptions> = {}): StackOptions {
  return {
    ...extra,
    config: (config, op) => {
      config.connectors = [
        {
          id: 'corp',
          type: 'oidc',
          name: 'Corporate SSO',
          issuer: op.issuer,
          clientId: DEFAULT_CLIENT_ID,
          clientSecret: DEFAULT_CLIENT_SECRET,
          domains: ['example.com'],
        },
        {
          id: 'entra',
          type: 'azure-ad',
          name: 'Contoso',
          tenant: TID,
          authority: entraOp.url,
          clientId: DEFAULT_CLIENT_ID,
          clientSecret: DEFAULT_CLIENT_SECRET,
          domains: ['contoso.example'],
        },
        { ...githubConnectorConfig(gh), id: 'gh', name: GH_NAME },
      ] as typeof config.connectors;
    },
  };
}

beforeAll(async () => {
  entraOp = await startOp(entraOpOptions(TID));
  gh = await startGithubStub();
  stack = await startStack(multiConfig());
  custom = await startStack(
    multiConfig({
      redis: stack.redis,
      options: {
        renderChooser: ({ connectors, returnTo, formAction, loginHint }) =>
          `<!doctype html><title>Pick</title><ul>${connectors.map((c) => `<li data-id="${escapeHtml(c.id)}"><a href="${escapeHtml(c.loginUrl)}">${escapeHtml(c.name)}</a></li>`).join('')}</ul>`
          + `<form action="${escapeHtml(formAction)}"><input name="returnTo" value="${escapeHtml(returnTo)}"><input name="login_hint" value="${escapeHtml(loginHint ?? '')}"></form>`,
      },
    }),
  );
  // The gateway's Redis client has no offline queue: wait for its connection before the first login.
  for (const s of [stack, custom]) await waitFor('gateway Redis connection', async () => (await s.gateway.health()).redis === 'ready');
  await entraOp.setRedirectUris(DEFAULT_CLIENT_ID, [`${stack.url}/auth/callback/entra`, `${custom.url}/auth/callback/entra`], [`${stack.url}/`]);
});
afterAll(async () => {
  await custom?.close();
  await stack?.close();
  await entraOp?.close();
  await gh?.close();
});
afterEach(() => {
  stack.op.reset();
  entraOp.reset();
  gh.reset();
});

function expectErrorPage(res: BrowserResponse, status: number, code: string, message: string): void {
  expect({ status: res.status, code: /<code>([A-Z_]+)<\/code>/.exec(res.body)?.[1] }).toEqual({ status, code });
  expect(res.body).toContain(`<p>${escapeHtml(message)}</p>`);
}

describe('chooser page', () => {
  test('browsers get an accessible server-rendered page: labelled links per connector and an e-mail field', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/login?returnTo=%2Fdashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.body).toContain('<html lang="en">');
    expect(res.body).toContain('<h1>Sign in</h1><nav aria-label="Sign-in providers">');
    const links = [...res.body.matchAll(/<a class="button" href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1], m[2]]);
    expect(links).toEqual([
      [escapeHtml('/auth/login/corp?returnTo=%2Fdashboard'), 'Sign in with Corporate SSO'],
      [escapeHtml('/auth/login/entra?returnTo=%2Fdashboard'), 'Sign in with Contoso'],
      [escapeHtml('/auth/login/gh?returnTo=%2Fdashboard'), `Sign in with ${escapeHtml(GH_NAME)}`],
    ]);
    expect(res.body).toContain(
      '<label for="login_hint">Or continue with your work e-mail</label><input id="login_hint" name="login_hint" type="email" autocomplete="email" required maxlength="256">',
    );
    expect(res.body).toContain(`<input type="hidden" name="returnTo" value="${escapeHtml('/dashboard')}">`);
    expect(res.body).not.toContain('role="alert"');
  });

  test('an e-mail whose domain no connector claims shows the chooser again with a notice and the address kept', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/login?login_hint=${encodeURIComponent('bob@elsewhere.example')}&returnTo=%2F`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('<p class="notice" role="alert">No sign-in provider is set up for that e-mail address. Choose one below.</p>');
    expect(res.body).toContain(`value="${escapeHtml('bob@elsewhere.example')}"`);
  });

  test('API clients get 400 CONNECTOR_REQUIRED listing the connector ids', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/login`, { headers: { accept: 'application/json' } });
    expect({ status: res.status, body: res.json() }).toEqual({
      status: 400,
      body: {
        error: 'connector_required',
        code: 'CONNECTOR_REQUIRED',
        message: 'Choose a connector: GET /auth/login/:connector',
        connectors: ['corp', 'entra', 'gh'],
      },
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('options.renderChooser replaces the page and gets links, returnTo, the form action and an unmatched hint', async () => {
    const res = await custom.browser().get(`${custom.url}/auth/login?returnTo=%2Freports&login_hint=${encodeURIComponent('x@nowhere.example')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.body).toBe(
      '<!doctype html><title>Pick</title><ul>'
        + `<li data-id="corp"><a href="${escapeHtml('/auth/login/corp?returnTo=%2Freports')}">Corporate SSO</a></li>`
        + `<li data-id="entra"><a href="${escapeHtml('/auth/login/entra?returnTo=%2Freports')}">Contoso</a></li>`
        + `<li data-id="gh"><a href="${escapeHtml('/auth/login/gh?returnTo=%2Freports')}">${escapeHtml(GH_NAME)}</a></li></ul>`
        + `<form action="${escapeHtml('/auth/login')}"><input name="returnTo" value="${escapeHtml('/reports')}"><input name="login_hint" value="${escapeHtml('x@nowhere.example')}"></form>`,
    );
  });

  test('a chosen link completes the login with that connector', async () => {
    const browser = stack.browser();
    const page = await browser.get(`${stack.url}/auth/login?returnTo=%2Fdashboard`);
    const href = /href="([^"]*gh[^"]*)"/.exec(page.body)![1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
    const res = await browser.follow(`${stack.url}${href}`);
    expect({ status: res.status, url: res.url }).toEqual({ status: 200, url: `${stack.url}/dashboard` });
    expect(res.json<{ sub: string }>().sub).toBe('gh|12345');
  });
});

describe('home-realm discovery', () => {
  test('login_hint with a claimed domain goes straight to that connector; Azure also gets domain_hint', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/login?login_hint=${encodeURIComponent('alice@Contoso.Example')}&returnTo=%2Fdashboard`);
    expect(res.status).toBe(302);
    const url = new URL(res.location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${entraOp.url}/${TID}/oauth2/v2.0/authorize`);
    expect({ login_hint: url.searchParams.get('login_hint'), domain_hint: url.searchParams.get('domain_hint') }).toEqual({
      login_hint: 'alice@Contoso.Example',
      domain_hint: 'contoso.example',
    });
  });

  test('another domain routes to its connector with login_hint only', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/login?login_hint=${encodeURIComponent('bob@example.com')}`);
    const url = new URL(res.location!);
    expect(url.origin).toBe(stack.op.url);
    expect({ login_hint: url.searchParams.get('login_hint'), domain_hint: url.searchParams.get('domain_hint') }).toEqual({
      login_hint: 'bob@example.com',
      domain_hint: null,
    });
  });

  test("the chooser's e-mail form leads through the whole login at the matching connector", async () => {
    const browser = stack.browser();
    const page = await browser.get(`${stack.url}/auth/login?returnTo=%2Fdashboard`);
    const res = await browser.submitForm(page, { login_hint: 'alice@contoso.example' });
    expect({ status: res.status, url: res.url }).toEqual({ status: 200, url: `${stack.url}/dashboard` });
    expect(res.json<{ sub: string }>().sub).toBe(`entra|${String(entraAccounts(TID).alice!.oid)}`);
    expect(entraOp.authorizationRequests.at(-1)!.get('login_hint')).toBe('alice@contoso.example');
  });

  test('GitHub receives the hint in its own form (login)', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/login/gh?login_hint=${encodeURIComponent('octocat@example.com')}`);
    const url = new URL(res.location!);
    expect({ login: url.searchParams.get('login'), login_hint: url.searchParams.get('login_hint') }).toEqual({
      login: 'octocat@example.com',
      login_hint: null,
    });
  });

  test('an overlong login_hint is refused', async () => {
    const res = await stack.browser().get(`${stack.url}/auth/login?login_hint=${'a'.repeat(250)}%40example.com`, { headers: { accept: 'application/json' } });
    expect({ status: res.status, body: res.json() }).toEqual({
      status: 400,
      body: { error: 'login_hint_invalid', code: 'LOGIN_HINT_INVALID', message: 'The login hint is not valid.' },
    });
  });
});

describe('mix-up defence', () => {
  /** Starts a login at `id` and stops at the redirect back to the gateway; returns the callback URL. */
  async function callbackFor(id: string, browser = stack.browser()): Promise<{ callback: URL; browser: ReturnType<Stack['browser']> }> {
    const res = await browser.follow(`${stack.url}/auth/login/${id}?returnTo=%2Fdashboard`, { stopAt: (u) => u.pathname.startsWith('/auth/callback/') });
    return { callback: new URL(res.stoppedAt!), browser };
  }

  function tokenRequestCount(): number {
    return stack.op.tokenRequests.length + entraOp.tokenRequests.length + gh.tokenRequests.length;
  }

  test("a callback on another connector's path is refused before any token request, and its state is spent", async () => {
    const { callback, browser } = await callbackFor('corp');
    expect(callback.pathname).toBe('/auth/callback/corp');
    const wrong = new URL(callback);
    wrong.pathname = '/auth/callback/entra';
    const res = await browser.get(wrong.href);
    expectErrorPage(res, 400, 'CALLBACK_CONNECTOR_MISMATCH', 'The sign-in response arrived for another provider than the one the sign-in started with.');
    expect(tokenRequestCount()).toBe(0);
    const replay = await browser.get(callback.href);
    expectErrorPage(replay, 400, 'CALLBACK_STATE_INVALID', 'This sign-in link is no longer valid. Please start the sign-in again.');
    expect(tokenRequestCount()).toBe(0);
  });

  test("a GitHub login answered on an OIDC connector's path is refused before any token request", async () => {
    const { callback, browser } = await callbackFor('gh');
    const wrong = new URL(callback);
    wrong.pathname = '/auth/callback/corp';
    const res = await browser.get(wrong.href);
    expectErrorPage(res, 400, 'CALLBACK_CONNECTOR_MISMATCH', 'The sign-in response arrived for another provider than the one the sign-in started with.');
    expect(tokenRequestCount()).toBe(0);
  });

  test.each([
    ['corp', () => entraOp.issuer],
    ['entra', () => stack.op.issuer],
    ['gh', () => stack.op.issuer],
  ])('a %s callback naming another issuer (iss) is refused before any token request', async (id, otherIssuer) => {
    const { callback, browser } = await callbackFor(id);
    callback.searchParams.set('iss', otherIssuer());
    const res = await browser.get(callback.href);
    expectErrorPage(res, 400, 'CALLBACK_PARAMS_INVALID', 'The sign-in response names another issuer.');
    expect(tokenRequestCount()).toBe(0);
  });

  test('the untouched callback still completes (the cases above fail for the stated reason only)', async () => {
    const { callback, browser } = await callbackFor('entra');
    const res = await browser.follow(callback.href);
    expect({ status: res.status, url: res.url }).toEqual({ status: 200, url: `${stack.url}/dashboard` });
  });
});
