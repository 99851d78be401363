/**
 * The `saml` connector against a real SAML IdP (SimpleSAMLphp 1.19 from Debian, its real login
 * form) in real Chromium, with a real Redis. The app runs on http://localhost and the IdP on
 * http://127.0.0.1: two different sites, so the IdP's POST to the ACS is cross-site exactly as in
 * production and carries no SameSite=Lax cookie.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromiumProfile } from '../fixtures/chromium.js';
import * as oidc from 'openid-client';
import { fedgate, requireAuth, type Gateway } from '../../index.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { startSimpleSamlPhp, type SimpleSamlPhp } from '../fixtures/simplesamlphp.js';
import { makeKeyPair, type KeyPair } from '../fixtures/saml-idp.js';
import { SESSION_SECRET, recordingLogger, testKeys } from '../fixtures/stack.js';
import { closeServer, listenEphemeral, waitFor } from '../fixtures/ports.js';
import { recordSecret } from '../fixtures/secret-scan.js';

const clientSecret = 'saml-broker-client-secret-0123456789-abcdef';
const testTimeout = 90_000;

let redis: RedisServer;
let ssp: SimpleSamlPhp;
let context: BrowserContext;
let userDataDir: string;
let server: Server;
let gateway: Gateway;
let base: string;
let spKeys: KeyPair;
let keyDir: string;
const logger = recordingLogger();
/** Cookie headers the ACS POST arrived with (proves the POST is cross-site: none). */
const acsCookies: Array<string | undefined> = [];

beforeAll(async () => {
  redis = await startRedis();
  const app = express();
  server = createServer(app);
  const port = await listenEphemeral(server);
  base = `http://localhost:${port}`;
  spKeys = await makeKeyPair('fedgate-sp');
  recordSecret(spKeys.key.replace(/-----[A-Z ]+-----|\s+/g, ''));
  keyDir = await mkdtemp(path.join(tmpdir(), 'fedgate-saml-sp-'));
  await writeFile(path.join(keyDir, 'sp.key'), spKeys.key);
  await writeFile(path.join(keyDir, 'sp.crt'), spKeys.cert);
  const sp = (id: string) => ({ entityId: `${base}/auth/saml/${id}`, acsUrl: `${base}/auth/callback/${id}`, sloUrl: `${base}/auth/saml/${id}/slo` });
  ssp = await startSimpleSamlPhp({ sps: [sp('ssp'), { ...sp('sspsec'), signingCert: spKeys.cert, encryptAssertions: true }] });
  recordSecret(SESSION_SECRET);
  recordSecret(clientSecret);
  gateway = fedgate(
    {
      baseUrl: base,
      allowInsecureRequests: true,
      httpTimeout: 5,
      session: { secret: SESSION_SECRET, redis: { url: redis.url } },
      tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] }, scopes: { 'admin:all': { claim: 'groups', includes: 'admins' } } },
      connectors: [
        {
          id: 'ssp',
          type: 'saml',
          name: 'SimpleSAMLphp',
          metadataUrl: ssp.metadataUrl,
          logout: 'upstream',
          claims: { department: { from: 'eduPersonAffiliation', type: 'string[]' } },
        },
        {
          // Signed AuthnRequests (the IdP is set to require them) and encrypted assertions only.
          id: 'sspsec',
          type: 'saml',
          metadataUrl: ssp.metadataUrl,
          spKeyFile: path.join(keyDir, 'sp.key'),
          spCertFile: path.join(keyDir, 'sp.crt'),
          requireEncryptedAssertions: true,
        },
      ],
      // Broker mode: fedgate is also an OpenID Provider for a downstream app (SAML in, OIDC out).
      op: {
        enabled: true,
        clients: [{ client_id: 'downstream', client_secret: clientSecret, client_name: 'Downstream app', redirect_uris: [`${base}/rp/cb`], trusted: true }],
      },
    },
    { logger },
  );
  app.use((req, _res, next) => {
    if (req.method === 'POST' && req.path === '/auth/callback/ssp') acsCookies.push(req.headers.cookie);
    next();
  });
  app.use(gateway);
  app.get('/dashboard', requireAuth(), (req, res) => res.json({ sub: req.auth.sub, claims: req.auth.claims, scope: req.auth.scope, via: req.auth.via }));
  app.get('/tokens', requireAuth(), (req, res) => res.json({ idToken: req.auth.idToken, accessToken: req.auth.accessToken }));
  app.get('/', (req, res) => res.send(req.auth.isAuthenticated ? `signed in as ${req.auth.sub}` : 'signed out'));
  app.get('/rp/cb', (_req, res) => res.send('downstream callback'));
  userDataDir = await mkdtemp(path.join(tmpdir(), 'fedgate-chromium-saml-'));
  context = await launchChromiumProfile(userDataDir);
}, testTimeout);

afterAll(async () => {
  await context?.close();
  await gateway?.close();
  if (server) await closeServer(server);
  await ssp?.stop();
  await redis?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

async function withPage(run: (page: Page) => Promise<void>): Promise<void> {
  await context.clearCookies();
  const page = await context.newPage();
  try {
    await run(page);
  } catch (err) {
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\n(page: ${page.url()})\n${(await page.content().catch(() => '')).slice(0, 1500)}\nIdP log: ${ssp.log().slice(-1500)}`,
      { cause: err },
    );
  } finally {
    for (const c of await context.cookies()) recordSecret(c.value);
    await page.close();
  }
}

/** On fedgate's chooser (two SAML connectors here), picks the plain SimpleSAMLphp one. */
async function choose(page: Page): Promise<void> {
  await page.waitForURL((u) => u.href.startsWith(ssp.url) || u.pathname === '/auth/login');
  if (new URL(page.url()).pathname === '/auth/login') await page.getByRole('link', { name: 'Sign in with SimpleSAMLphp' }).click();
  await page.waitForURL((u) => u.href.startsWith(ssp.url));
}

/** Signs in through SimpleSAMLphp's real login form, starting at a protected page. */
async function signIn(page: Page, start = '/dashboard', landing = start): Promise<void> {
  await page.goto(`${base}${start}`);
  await choose(page);
  await page.fill('#username', 'alice');
  await page.fill('#password', 'alice-pass-7261');
  await page.press('#password', 'Enter');
  await page.waitForURL((u) => u.href.startsWith(`${base}${landing}`));
}

async function json<T>(page: Page, url: string): Promise<T> {
  const res = await page.goto(url);
  expect(res?.status()).toBe(200);
  return JSON.parse(await page.locator('body').innerText()) as T;
}

test(
  "signs in through the IdP's form: persistent NameID subject, mapped attributes, local tokens, requireAuth",
  async () => {
    await withPage(async (page) => {
      await signIn(page);
      const me = await json<{ sub: string; claims: Record<string, unknown>; scope: string[]; via: string }>(page, `${base}/dashboard`);
      // A persistent NameID (SimpleSAMLphp's default would be a transient one, new at every login).
      expect(me.sub).toMatch(/^ssp\|[0-9a-f]{40}$/);
      expect(me.via).toBe('session');
      expect(me.claims).toMatchObject({
        sub: me.sub,
        email: 'alice@example.org',
        email_verified: false,
        name: 'Alice Liddell',
        given_name: 'Alice',
        family_name: 'Liddell',
        username: 'alice',
        groups: ['admins', 'staff'],
        department: ['member', 'staff'],
      });
      expect(me.scope).toEqual(['admin:all']);
      // The ACS POST came without any cookie: the browser binding happened on the same-site step.
      expect(acsCookies.length).toBeGreaterThan(0);
      expect(acsCookies.at(-1)).toBeUndefined();

      // Local tokens work as bearer tokens.
      const tokens = await json<{ accessToken: string; idToken: string }>(page, `${base}/tokens`);
      recordSecret(tokens.accessToken);
      recordSecret(tokens.idToken);
      const api = await fetch(`${base}/dashboard`, { headers: { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' } });
      expect(api.status).toBe(200);
      expect(await api.json()).toMatchObject({ sub: me.sub, via: 'bearer' });

      // The same user signs in again: the same subject (persistent NameID, not transient).
      await context.clearCookies({ domain: 'localhost' });
      await page.goto(`${base}/dashboard`);
      await choose(page);
      await page.waitForURL((u) => u.href.startsWith(`${base}/dashboard`));
      const again = await json<{ sub: string }>(page, `${base}/dashboard`);
      expect(again.sub).toBe(me.sub);
    });
  },
  testTimeout,
);

test('SP metadata names the ACS, SLO and persistent NameID first', async () => {
  const res = await fetch(`${base}/auth/saml/ssp/metadata`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/samlmetadata+xml');
  const xml = await res.text();
  expect(xml).toContain(`entityID="${base}/auth/saml/ssp"`);
  expect(xml).toContain(`Location="${base}/auth/callback/ssp"`);
  expect(xml).toContain(`Location="${base}/auth/saml/ssp/slo"`);
  expect(xml.indexOf('nameid-format:persistent')).toBeLessThan(xml.indexOf('nameid-format:emailAddress'));
});

/** The session cookie as a header, to replay it outside the browser after a logout. */
async function sessionCookieHeader(): Promise<string> {
  const c = (await context.cookies(base)).find((x) => x.name === 'fedgate.sid');
  if (!c) throw new Error('no session cookie');
  return `${c.name}=${c.value}`;
}

async function statusWithCookie(cookie: string): Promise<number> {
  return (await fetch(`${base}/dashboard`, { headers: { cookie, accept: 'application/json' } })).status;
}

test(
  'SP-initiated logout ends the local session and the IdP session (LogoutRequest to its SLO, LogoutResponse back)',
  async () => {
    await withPage(async (page) => {
      await signIn(page);
      const cookie = await sessionCookieHeader();
      expect(await statusWithCookie(cookie)).toBe(200);
      const sloSeen: string[] = [];
      page.on('request', (r) => {
        if (r.url().startsWith(`${ssp.url}/saml2/idp/SingleLogoutService.php`) || r.url().startsWith(`${base}/auth/saml/ssp/slo`))
          sloSeen.push(new URL(r.url()).pathname);
      });
      await page.goto(`${base}/auth/logout`);
      await page.waitForURL(`${base}/`);
      expect(await page.locator('body').innerText()).toBe('signed out');
      expect(sloSeen).toEqual(['/simplesaml/saml2/idp/SingleLogoutService.php', '/auth/saml/ssp/slo']);
      expect(await statusWithCookie(cookie)).toBe(401);
      // The IdP session is gone too: the next sign-in shows its login form again.
      await page.goto(`${base}/dashboard`);
      await choose(page);
      await expect(page.locator('#username').isVisible()).resolves.toBe(true);
    });
  },
  testTimeout,
);

test(
  'IdP-initiated logout: its signed LogoutRequest ends the matching session server-side and gets a LogoutResponse',
  async () => {
    await withPage(async (page) => {
      await signIn(page);
      const cookie = await sessionCookieHeader();
      const done = `${base}/?after-idp-logout`;
      await page.goto(`${ssp.url}/saml2/idp/initSLO.php?RelayState=${encodeURIComponent(done)}`);
      await page.waitForURL(done);
      // Matched by NameID and SessionIndex in Redis, not by the cookie: the old cookie is dead everywhere.
      expect(await statusWithCookie(cookie)).toBe(401);
      expect(logger.lines.some((l) => (l.obj as { event?: string }).event === 'backchannel.logout' && (l.obj as { sessions?: number }).sessions === 1)).toBe(
        true,
      );
    });
  },
  testTimeout,
);

test(
  'an unsigned LogoutRequest at the SLO endpoint is refused and ends nothing',
  async () => {
    await withPage(async (page) => {
      await signIn(page);
      const cookie = await sessionCookieHeader();
      const { deflateRawSync } = await import('node:zlib');
      const nameId = (await json<{ claims: { nameid: string; session_index: string } }>(page, `${base}/dashboard`)).claims;
      const xml = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x1" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${base}/auth/saml/ssp/slo"><saml:Issuer>${ssp.entityId}</saml:Issuer><saml:NameID>${nameId.nameid}</saml:NameID><samlp:SessionIndex>${nameId.session_index}</samlp:SessionIndex></samlp:LogoutRequest>`;
      const res = await fetch(`${base}/auth/saml/ssp/slo?SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`, {
        headers: { accept: 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'SAML_LOGOUT_INVALID' });
      expect(await statusWithCookie(cookie)).toBe(200);
    });
  },
  testTimeout,
);

test(
  "broker mode: a downstream OpenID Connect client gets fedgate's tokens after a SAML sign-in",
  async () => {
    await withPage(async (page) => {
      const config = await oidc.discovery(new URL(`${base}/auth`), 'downstream', clientSecret, oidc.ClientSecretBasic(clientSecret), {
        execute: [oidc.allowInsecureRequests],
      });
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${base}/rp/cb`,
        scope: 'openid profile email',
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      await page.goto(url.href);
      await choose(page);
      await page.fill('#username', 'alice');
      await page.fill('#password', 'alice-pass-7261');
      await page.press('#password', 'Enter');
      await page.waitForURL((u) => u.href.startsWith(`${base}/rp/cb`));
      const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      for (const t of [tokens.access_token, tokens.id_token, tokens.refresh_token]) if (t) recordSecret(t);
      const claims = tokens.claims();
      expect(claims?.iss).toBe(`${base}/auth`);
      expect(claims?.aud).toBe('downstream');
      expect(claims?.sub).toMatch(/^ssp\|[0-9a-f]{40}$/);
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims!.sub);
      expect(info).toMatchObject({ sub: claims!.sub, email: 'alice@example.org', name: 'Alice Liddell' });
    });
  },
  testTimeout,
);

test(
  'signed AuthnRequests (the IdP requires and verifies them) and encrypted assertions (decrypted with the SP key)',
  async () => {
    await withPage(async (page) => {
      let authnRequest: URL | undefined;
      let acsBody: string | undefined;
      page.on('request', (r) => {
        if (r.url().startsWith(`${ssp.url}/saml2/idp/SSOService.php`) && !authnRequest) authnRequest = new URL(r.url());
        if (r.method() === 'POST' && r.url() === `${base}/auth/callback/sspsec`) acsBody = r.postData() ?? undefined;
      });
      await signIn(page, '/auth/login/sspsec?returnTo=%2Fdashboard', '/dashboard');
      const me = await json<{ sub: string; claims: Record<string, unknown> }>(page, `${base}/dashboard`);
      expect(me.sub).toMatch(/^sspsec\|[0-9a-f]{40}$/);
      expect(me.claims).toMatchObject({ email: 'alice@example.org' });
      expect(authnRequest?.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      expect(authnRequest?.searchParams.get('Signature')).toBeTruthy();
      const samlResponse = Buffer.from(new URLSearchParams(acsBody).get('SAMLResponse') ?? '', 'base64').toString('utf8');
      expect(samlResponse).toContain('EncryptedAssertion');
      expect(samlResponse).not.toContain('alice@example.org');
    });
    // Its SP metadata publishes the certificate for signing and for encryption.
    const xml = await (await fetch(`${base}/auth/saml/sspsec/metadata`)).text();
    expect(xml).toContain('AuthnRequestsSigned="true"');
    expect(xml).toContain('use="signing"');
    expect(xml).toContain('use="encryption"');
  },
  testTimeout,
);

test(
  "a response the IdP issued for one browser's sign-in is refused when another browser posts it",
  async () => {
    await withPage(async (page) => {
      // Browser A signs in at the IdP; its auto-submitted POST to the ACS is captured and not delivered.
      let captured: string | undefined;
      await page.route(`${base}/auth/callback/ssp`, async (route) => {
        if (route.request().method() !== 'POST') return route.continue();
        captured = route.request().postData() ?? undefined;
        return route.abort();
      });
      await page.goto(`${base}/auth/login/ssp?returnTo=%2Fdashboard`);
      await page.waitForURL((u) => u.href.startsWith(ssp.url));
      await page.fill('#username', 'alice');
      await page.fill('#password', 'alice-pass-7261');
      await page.press('#password', 'Enter');
      await waitFor("the IdP's POST to the ACS", () => captured, { timeoutMs: 15_000 });
      await page.unroute(`${base}/auth/callback/ssp`);

      // "Browser B" (no cookies of the app) posts that genuine, signed response from another site.
      await context.clearCookies({ domain: 'localhost' });
      const fields = [...new URLSearchParams(captured)].map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`).join('');
      await page.setContent(`<form method="post" action="${base}/auth/callback/ssp">${fields}<button>go</button></form>`);
      await page.click('button');
      await page.waitForURL((u) => u.href.startsWith(`${base}/auth/callback/ssp?posted=`));
      expect(await page.locator('body').innerText()).toContain('CALLBACK_STATE_INVALID');
      expect((await context.cookies(base)).some((c) => c.name === 'fedgate.sid')).toBe(false);
    });
  },
  testTimeout,
);
