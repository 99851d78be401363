/**
 * SAML's classic failures against the `saml` connector, with a hand-made hostile IdP that signs
 * (xml-crypto) and encrypts (xml-encryption) its own messages, answering the AuthnRequests the
 * gateway really sent; real Redis, real HTTP, the gateway inside Express.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { fedgate, requireAuth, type Gateway } from '../../index.js';
import { createBrowser, type Browser, type BrowserResponse } from '../fixtures/browser.js';
import { closeServer, listenEphemeral } from '../fixtures/ports.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { recordSecret } from '../fixtures/secret-scan.js';
import { SESSION_SECRET, recordingLogger, testKeys } from '../fixtures/stack.js';
import {
  assertionXml,
  b64,
  certBody,
  encryptAssertion,
  logoutRequestXml,
  makeKeyPair,
  newId,
  readAuthnRequest,
  redirectQuery,
  responseXml,
  sign,
  type AssertionInput,
  type KeyPair,
  type LogoutRequestInput,
} from '../fixtures/saml-idp.js';

const issuer = 'https://idp.hostile.test/entity';
const entryPoint = 'https://idp.hostile.test/sso';
let redis: RedisServer;
let server: Server;
let gateway: Gateway;
let base: string;
let idpKeys: KeyPair;
let otherKeys: KeyPair;
let spKeys: KeyPair;
let keyDir: string;
const logger = recordingLogger();

beforeAll(async () => {
  [idpKeys, otherKeys, spKeys] = await Promise.all([makeKeyPair('hostile-idp'), makeKeyPair('attacker'), makeKeyPair('fedgate-sp')]);
  for (const k of [idpKeys, otherKeys, spKeys]) recordSecret(certBody(k.key.replace(/-----[A-Z ]+-----/g, '')));
  keyDir = await mkdtemp(path.join(tmpdir(), 'fedgate-saml-sp-'));
  await writeFile(path.join(keyDir, 'sp.key'), spKeys.key);
  await writeFile(path.join(keyDir, 'sp.crt'), spKeys.cert);
  redis = await startRedis();
  const app = express();
  server = createServer(app);
  const port = await listenEphemeral(server);
  base = `http://127.0.0.1:${port}`;
  const idp = { type: 'saml', entryPoint, idpCert: idpKeys.cert, idpIssuer: issuer };
  gateway = fedgate(
    {
      baseUrl: base,
      allowInsecureRequests: true,
      session: { secret: SESSION_SECRET, redis: { url: redis.url } },
      tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] } },
      connectors: [
        { id: 'hostile', ...idp },
        { id: 'unsol', ...idp, allowUnsolicited: true },
        { id: 'enc', ...idp, spKeyFile: path.join(keyDir, 'sp.key'), spCertFile: path.join(keyDir, 'sp.crt'), requireEncryptedAssertions: true },
        // The certificate given as a base64 body in a rotation array: the first one is not the signer.
        { id: 'rotate', ...idp, idpCert: [certBody(otherKeys.cert), certBody(idpKeys.cert)] },
        // Entra-style: the subject from an attribute, and this IdP's e-mails count as verified.
        { id: 'entra', ...idp, subjectAttribute: 'http://schemas.microsoft.com/identity/claims/objectidentifier', emailVerified: true },
      ],
    },
    { logger },
  );
  app.use(gateway);
  app.get('/dashboard', requireAuth(), (req, res) => res.json({ sub: req.auth.sub, claims: req.auth.claims }));
  app.get('/landing', requireAuth(), (req, res) => res.json({ landed: true, sub: req.auth.sub }));
});

afterAll(async () => {
  await gateway?.close();
  if (server) await closeServer(server);
  await redis?.stop();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

interface Pending {
  browser: Browser;
  requestId: string;
  relayState: string;
}

/** Starts a login in `browser` (a fresh one by default) and reads the AuthnRequest the gateway sent. */
async function begin(connector = 'hostile', browser = createBrowser()): Promise<Pending> {
  const res = await browser.follow(`${base}/auth/login/${connector}?returnTo=/dashboard`, { stopAt: (u) => u.href.startsWith(entryPoint) });
  if (!res.stoppedAt) throw new Error(`login did not reach the IdP: ${res.status} ${res.url}`);
  const req = readAuthnRequest(res.stoppedAt);
  expect(req.xml).toContain(`AssertionConsumerServiceURL="${base}/auth/callback/${connector}"`);
  expect(req.xml).toContain('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
  return { browser, requestId: req.id, relayState: req.relayState };
}

/** A correct assertion for `p` (what an honest IdP would send), with overrides. */
function honest(p: Pending | undefined, connector = 'hostile', over: Partial<AssertionInput> = {}): AssertionInput {
  return {
    issuer,
    nameIdXml: 'user-7f3a',
    audience: `${base}/auth/saml/${connector}`,
    recipient: `${base}/auth/callback/${connector}`,
    ...(p ? { inResponseTo: p.requestId } : {}),
    attributes: { mail: ['alice@example.org'], displayName: ['Alice'], groups: ['staff', 'admins'] },
    ...over,
  };
}

/** Wraps a signed assertion in a Response for `p`. */
function response(
  p: Pending | undefined,
  body: string,
  connector = 'hostile',
  over: { destination?: string; inResponseTo?: string; beforeAssertion?: string; statusCode?: string } = {},
): string {
  return responseXml({
    issuer,
    destination: over.destination ?? `${base}/auth/callback/${connector}`,
    ...(over.inResponseTo !== undefined ? { inResponseTo: over.inResponseTo } : p ? { inResponseTo: p.requestId } : {}),
    ...(over.beforeAssertion ? { beforeAssertion: over.beforeAssertion } : {}),
    ...(over.statusCode ? { statusCode: over.statusCode } : {}),
    body,
  });
}

const signedAssertion = (a: AssertionInput, keys = idpKeys, sha1 = false) => sign(assertionXml(a), { ...keys, element: 'Assertion', sha1 });

/** POSTs to the ACS as the IdP's auto-submitted form would, then follows the same-site step. */
async function deliver(
  browser: Browser,
  xml: string,
  relayState: string | undefined,
  connector = 'hostile',
  accept = 'application/json',
): Promise<{ acs: BrowserResponse; final?: BrowserResponse }> {
  const form: Record<string, string> = { SAMLResponse: b64(xml), ...(relayState !== undefined ? { RelayState: relayState } : {}) };
  const acs = await browser.post(`${base}/auth/callback/${connector}`, form, { headers: { accept } });
  if (acs.status !== 200) return { acs };
  const next = /url=([^"]+)"/.exec(acs.body)?.[1];
  if (!next) throw new Error(`no continue URL in ${acs.body.slice(0, 300)}`);
  const final = await browser.follow(`${base}${next.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)))}`, { headers: { accept } });
  return { acs, final };
}

/** POSTs a form the way a browser navigates (Sec-Fetch-Mode: navigate, Accept: text/html). */
function postNavigation(url: string, form: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          accept: 'text/html,application/xhtml+xml',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-site': 'cross-site',
          'sec-fetch-dest': 'document',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function expectRefused(res: BrowserResponse, code: string, status = 400): void {
  expect({ status: res.status, code: res.json<{ code: string }>().code }).toEqual({ status, code });
  expect(res.json<{ message: string }>().message.length).toBeGreaterThan(10);
  expect(res.setCookies.some((c) => c.startsWith('fedgate.sid='))).toBe(false);
}

async function expectNoSession(browser: Browser): Promise<void> {
  const res = await browser.get(`${base}/dashboard`, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(401);
}

describe('an honest response', () => {
  test('signs in: NameID subject, preset-mapped attributes, email_verified false', async () => {
    const p = await begin();
    const { acs, final } = await deliver(p.browser, response(p, signedAssertion(honest(p))), p.relayState);
    expect(acs.status).toBe(200);
    expect(acs.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(acs.body).not.toMatch(/<script/i);
    expect(final?.status).toBe(200);
    expect(final?.json()).toMatchObject({
      sub: 'hostile|user-7f3a',
      claims: { email: 'alice@example.org', email_verified: false, name: 'Alice', groups: ['staff', 'admins'] },
    });
  });

  test('a transient NameID still signs in, and the operator is warned once that it is not a stable subject', async () => {
    const warned = () => logger.lines.filter((l) => (l.obj as { event?: string }).event === 'saml.nameid_unstable').length;
    expect(warned()).toBe(0);
    for (const nameIdXml of ['_t1', '_t2']) {
      const p = await begin();
      const a = honest(p, 'hostile', { nameIdXml, nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' });
      const { final } = await deliver(p.browser, response(p, signedAssertion(a)), p.relayState);
      expect(final?.json()).toMatchObject({ sub: `hostile|${nameIdXml}` });
    }
    expect(warned()).toBe(1);
    const line = logger.lines.find((l) => (l.obj as { event?: string }).event === 'saml.nameid_unstable');
    expect(JSON.stringify(line)).not.toContain('_t1');
  });

  test('an IdP cannot mark e-mails verified: an email_verified attribute is ignored', async () => {
    const p = await begin();
    const a = honest(p, 'hostile', { attributes: { mail: ['alice@example.org'], email_verified: ['true'] } });
    const { final } = await deliver(p.browser, response(p, signedAssertion(a)), p.relayState);
    expect(final?.json()).toMatchObject({ claims: { email: 'alice@example.org', email_verified: false } });
  });

  test('Entra ID claim URIs map into the profile; subjectAttribute is the subject; emailVerified: true vouches', async () => {
    const xs = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims';
    const attributes = {
      'http://schemas.microsoft.com/identity/claims/objectidentifier': ['7c1e0d2a-0000-4000-8000-000000000001'],
      [`${xs}/emailaddress`]: ['dana@contoso.example'],
      [`${xs}/givenname`]: ['Dana'],
      [`${xs}/surname`]: ['Reyes'],
      'http://schemas.microsoft.com/identity/claims/displayname': ['Dana Reyes'],
      [`${xs}/upn`]: ['dana@contoso.example'],
      'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': ['g-1', 'g-2'],
      'http://schemas.microsoft.com/ws/2008/06/identity/claims/role': ['Reader'],
    };
    const p = await begin('entra');
    const a = honest(p, 'entra', { nameIdXml: 'dana@contoso.example', nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', attributes });
    const { final } = await deliver(p.browser, response(p, signedAssertion(a), 'entra'), p.relayState, 'entra');
    expect(final?.json()).toMatchObject({
      sub: 'entra|7c1e0d2a-0000-4000-8000-000000000001',
      claims: {
        email: 'dana@contoso.example',
        email_verified: true,
        name: 'Dana Reyes',
        given_name: 'Dana',
        family_name: 'Reyes',
        username: 'dana@contoso.example',
        groups: ['g-1', 'g-2'],
        roles: ['Reader'],
      },
    });

    const q = await begin('entra');
    const missing = await deliver(q.browser, response(q, signedAssertion(honest(q, 'entra')), 'entra'), q.relayState, 'entra');
    expectRefused(missing.final!, 'CLAIM_REQUIRED_MISSING', 403);
  });

  test('a rotated certificate list verifies with whichever listed certificate signed', async () => {
    const p = await begin('rotate');
    const { final } = await deliver(p.browser, response(p, signedAssertion(honest(p, 'rotate')), 'rotate'), p.relayState, 'rotate');
    expect(final?.json()).toMatchObject({ sub: 'rotate|user-7f3a' });
  });

  test('an encrypted assertion decrypts with the SP key; a plaintext one is then refused', async () => {
    const p = await begin('enc');
    const encrypted = await encryptAssertion(signedAssertion(honest(p, 'enc')), spKeys.cert);
    const { final } = await deliver(p.browser, response(p, encrypted, 'enc'), p.relayState, 'enc');
    expect(final?.json()).toMatchObject({ sub: 'enc|user-7f3a', claims: { email: 'alice@example.org' } });

    const q = await begin('enc');
    const { acs } = await deliver(q.browser, response(q, signedAssertion(honest(q, 'enc')), 'enc'), q.relayState, 'enc');
    expectRefused(acs, 'SAML_RESPONSE_INVALID');
  });

  test('RSA PKCS#1 v1.5 key transport is refused before any decryption', async () => {
    const p = await begin('enc');
    const encrypted = await encryptAssertion(signedAssertion(honest(p, 'enc')), spKeys.cert, { key: 'http://www.w3.org/2001/04/xmlenc#rsa-1_5' });
    const { acs } = await deliver(p.browser, response(p, encrypted, 'enc'), p.relayState, 'enc');
    expectRefused(acs, 'SAML_RESPONSE_INVALID');
    await expectNoSession(p.browser);
  });
});

describe('replays and browser binding', () => {
  test('a response is used once: the same POST again is refused as a replay', async () => {
    const p = await begin();
    const xml = response(p, signedAssertion(honest(p)));
    const first = await deliver(p.browser, xml, p.relayState);
    expect(first.final?.status).toBe(200);
    const again = await deliver(createBrowser(), xml, p.relayState);
    expectRefused(again.acs, 'SAML_REPLAYED');
  });

  test("a response for another browser's login is refused in this browser (no SameSite cookie needed at the ACS)", async () => {
    const victim = await begin();
    const attacker = createBrowser();
    const { acs, final } = await deliver(attacker, response(victim, signedAssertion(honest(victim))), victim.relayState);
    expect(acs.status).toBe(200);
    expectRefused(final!, 'CALLBACK_STATE_INVALID');
    await expectNoSession(attacker);
  });

  test("InResponseTo of another login with this browser's RelayState is refused", async () => {
    const other = await begin();
    const mine = await begin();
    const { final } = await deliver(mine.browser, response(other, signedAssertion(honest(other))), mine.relayState);
    expectRefused(final!, 'SAML_RESPONSE_INVALID');
    await expectNoSession(mine.browser);
  });

  test('the one-time handle of the same-site step works once', async () => {
    const p = await begin();
    const acs = await p.browser.post(`${base}/auth/callback/hostile`, { SAMLResponse: b64(response(p, signedAssertion(honest(p)))), RelayState: p.relayState });
    const next = /href="([^"]+)"/.exec(acs.body)![1]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
    expect((await p.browser.follow(`${base}${next}`)).status).toBe(200);
    expectRefused(await p.browser.get(`${base}${next}`, { headers: { accept: 'application/json' } }), 'CALLBACK_STATE_INVALID');
  });

  test('unsolicited responses are refused unless the connector allows them', async () => {
    const { acs } = await deliver(createBrowser(), response(undefined, signedAssertion(honest(undefined))), undefined);
    expectRefused(acs, 'SAML_UNSOLICITED');

    const browser = createBrowser();
    const ok = await deliver(browser, response(undefined, signedAssertion(honest(undefined, 'unsol')), 'unsol'), '/landing', 'unsol');
    expect(ok.final?.json()).toEqual({ landed: true, sub: 'unsol|user-7f3a' });
  });
});

describe('what is checked against this SP', () => {
  test.each([
    ['a wrong Audience', (p: Pending) => response(p, signedAssertion(honest(p, 'hostile', { audience: 'https://other-sp.example/saml' })))],
    ['a wrong Recipient', (p: Pending) => response(p, signedAssertion(honest(p, 'hostile', { recipient: `${base}/auth/callback/unsol` })))],
    ['a wrong Destination', (p: Pending) => response(p, signedAssertion(honest(p)), 'hostile', { destination: 'https://other-sp.example/acs' })],
    ['a wrong Issuer', (p: Pending) => response(p, signedAssertion(honest(p, 'hostile', { issuer: 'https://evil.example/idp' })))],
    [
      'an expired assertion',
      (p: Pending) => response(p, signedAssertion(honest(p, 'hostile', { now: Date.now() - 3_600_000, notOnOrAfter: Date.now() - 600_000 }))),
    ],
    ['an assertion from the future', (p: Pending) => response(p, signedAssertion(honest(p, 'hostile', { notBefore: Date.now() + 600_000 })))],
    ['a Response InResponseTo differing from the signed one', (p: Pending) => response(p, signedAssertion(honest(p)), 'hostile', { inResponseTo: newId() })],
  ])('%s is refused', async (_what, build) => {
    const p = await begin();
    const { acs } = await deliver(p.browser, build(p), p.relayState);
    expectRefused(acs, 'SAML_RESPONSE_INVALID');
    await expectNoSession(p.browser);
  });

  test("a non-success status is the IdP's refusal, shown as such", async () => {
    const p = await begin();
    const { acs } = await deliver(p.browser, response(p, '', 'hostile', { statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Responder' }), p.relayState);
    expectRefused(acs, 'UPSTREAM_AUTHORIZATION_ERROR');
  });
});

describe('signatures', () => {
  test.each([
    ['an unsigned assertion', (p: Pending) => response(p, assertionXml(honest(p)))],
    [
      'a signed response around an unsigned assertion (signed assertions are required)',
      (p: Pending) => sign(response(p, assertionXml(honest(p))), { ...idpKeys, element: 'Response' }),
    ],
    ['a SHA-1 signature', (p: Pending) => response(p, signedAssertion(honest(p), idpKeys, true))],
    ['a certificate the IdP config does not list (even when the message carries it)', (p: Pending) => response(p, signedAssertion(honest(p), otherKeys))],
    ['a signed assertion altered after signing', (p: Pending) => response(p, signedAssertion(honest(p)).replace('user-7f3a', 'admin-0001'))],
  ])('%s is refused', async (_what, build) => {
    const p = await begin();
    const { acs } = await deliver(p.browser, build(p), p.relayState);
    expectRefused(acs, 'SAML_SIGNATURE_INVALID');
    await expectNoSession(p.browser);
  });
});

describe('XML signature wrapping', () => {
  const evil = (p: Pending, id?: string) => assertionXml(honest(p, 'hostile', { nameIdXml: 'admin-0001', ...(id ? { id } : {}) }));
  test.each([
    ['a second, unsigned assertion after the signed one', (p: Pending) => response(p, signedAssertion(honest(p)) + evil(p))],
    ['a second, unsigned assertion before the signed one', (p: Pending) => response(p, evil(p) + signedAssertion(honest(p)))],
    [
      'the signed assertion moved into Extensions, an unsigned one in its place',
      (p: Pending) => response(p, evil(p), 'hostile', { beforeAssertion: `<samlp:Extensions>${signedAssertion(honest(p))}</samlp:Extensions>` }),
    ],
    [
      "the signed assertion moved into the Signature's Object",
      (p: Pending) => {
        const signed = signedAssertion(honest(p));
        const evilWithSig = evil(p).replace(
          '</saml:Issuer>',
          `</saml:Issuer>${/<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0].replace('</ds:Signature>', `<ds:Object>${signed}</ds:Object></ds:Signature>`)}`,
        );
        return response(p, evilWithSig);
      },
    ],
    [
      "an unsigned assertion reusing the signed one's ID",
      (p: Pending) => {
        const signed = signedAssertion(honest(p));
        const id = /ID="([^"]+)"/.exec(signed)![1]!;
        return response(p, signed, 'hostile', { beforeAssertion: `<samlp:Extensions>${evil(p, id)}</samlp:Extensions>` });
      },
    ],
    [
      'a signed response wrapping an assertion in Advice',
      (p: Pending) => {
        const inner = signedAssertion(honest(p));
        const outer = evil(p).replace('<saml:Conditions', `<saml:Advice>${inner}</saml:Advice><saml:Conditions`);
        return response(p, outer);
      },
    ],
  ])('%s is refused', async (_what, build) => {
    const p = await begin();
    const { acs } = await deliver(p.browser, build(p), p.relayState);
    expect(acs.status).toBe(400);
    expect(['SAML_SIGNATURE_INVALID', 'SAML_RESPONSE_INVALID']).toContain(acs.json<{ code: string }>().code);
    await expectNoSession(p.browser);
  });
});

describe('XML parsing', () => {
  test('a DTD (external entity) is refused before parsing', async () => {
    const p = await begin();
    const xml = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${response(p, signedAssertion(honest(p, 'hostile', { nameIdXml: 'user-7f3a' })))}`;
    const { acs } = await deliver(p.browser, xml, p.relayState);
    expectRefused(acs, 'SAML_RESPONSE_INVALID');
  });

  test('a comment inside the NameID or an attribute value cannot truncate it', async () => {
    const p = await begin();
    const a = honest(p, 'hostile', { nameIdXml: 'alice@example.org<!---->.evil.example', attributes: { mail: ['alice@example.org<!-- x -->.evil.example'] } });
    const { final } = await deliver(p.browser, response(p, signedAssertion(a)), p.relayState);
    expect(final?.json()).toMatchObject({ sub: 'hostile|alice@example.org.evil.example', claims: { email: 'alice@example.org.evil.example' } });
  });

  test('an oversized POST is refused with 413, an oversized SAMLResponse with 400', async () => {
    const browser = createBrowser();
    const huge = await browser.post(`${base}/auth/callback/hostile`, { SAMLResponse: 'A'.repeat(300 * 1024) }, { headers: { accept: 'application/json' } });
    expectRefused(huge, 'CALLBACK_PARAMS_INVALID', 413);
    const big = await browser.post(
      `${base}/auth/callback/hostile`,
      { SAMLResponse: Buffer.from(`<a>${'x'.repeat(140 * 1024)}</a>`).toString('base64') },
      { headers: { accept: 'application/json' } },
    );
    expectRefused(big, 'SAML_RESPONSE_INVALID');
  });

  test('a browser gets an HTML error page for a refused POST, and nothing secret is logged', async () => {
    const p = await begin();
    // The IdP's auto-submitted form is a navigation: Fetch Metadata says so. node's fetch always
    // sends `Sec-Fetch-Mode: cors`, so the navigation is posted with node:http, as a browser sends it.
    const acs = await postNavigation(`${base}/auth/callback/hostile`, {
      SAMLResponse: b64(response(p, assertionXml(honest(p)))),
      RelayState: p.relayState ?? '',
    });
    expect(acs.status).toBe(400);
    expect(acs.type).toContain('text/html');
    expect(acs.body).toContain('SAML_SIGNATURE_INVALID');
    expect(JSON.stringify(logger.lines)).not.toContain('SAMLResponse=');
  });
});

describe('IdP-initiated single logout', () => {
  const slo = () => `${base}/auth/saml/hostile/slo`;
  async function signedInWith(sessionIndex: string): Promise<Browser> {
    const p = await begin();
    const { final } = await deliver(p.browser, response(p, signedAssertion(honest(p, 'hostile', { sessionIndex }))), p.relayState);
    expect(final?.status).toBe(200);
    return p.browser;
  }
  const request = (over: Partial<LogoutRequestInput> = {}) => logoutRequestXml({ issuer, destination: slo(), nameId: 'user-7f3a', ...over });
  const send = (query: string) => fetch(`${slo()}?${query}`, { headers: { accept: 'application/json' }, redirect: 'manual' });
  const alive = async (b: Browser) => (await b.get(`${base}/dashboard`, { headers: { accept: 'application/json' } })).status === 200;

  test('a signed LogoutRequest ends the session of that NameID and SessionIndex only, once', async () => {
    const mine = await signedInWith('_idx-mine');
    const other = await signedInWith('_idx-other');
    const query = redirectQuery(request({ sessionIndex: '_idx-mine' }), 'SAMLRequest', idpKeys.key);
    const res = await send(query);
    expect(res.status).toBe(200);
    expect(await alive(mine)).toBe(false);
    expect(await alive(other)).toBe(true);
    const replay = await send(query);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ code: 'SAML_LOGOUT_INVALID' });
  });

  test('by HTTP-POST: a signed LogoutRequest ends the session, an unsigned one nothing', async () => {
    const browser = await signedInWith('_idx-post');
    const post = (xml: string) =>
      fetch(slo(), {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLRequest: b64(xml) }),
        redirect: 'manual',
      });
    const unsigned = await post(request({ sessionIndex: '_idx-post' }));
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ code: 'SAML_SIGNATURE_INVALID' });
    expect(await alive(browser)).toBe(true);
    const signed = await post(sign(request({ sessionIndex: '_idx-post' }), { ...idpKeys, element: 'LogoutRequest' }));
    expect(signed.status).toBe(200);
    expect(await alive(browser)).toBe(false);
  });

  test.each([
    ['signed by an unknown key', () => redirectQuery(request({ sessionIndex: '_idx-x' }), 'SAMLRequest', otherKeys.key), 'SAML_SIGNATURE_INVALID'],
    ['signed with SHA-1', () => redirectQuery(request({ sessionIndex: '_idx-x' }), 'SAMLRequest', idpKeys.key, { sha1: true }), 'SAML_LOGOUT_INVALID'],
    [
      'for another Destination',
      () => redirectQuery(request({ sessionIndex: '_idx-x', destination: `${base}/auth/saml/unsol/slo` }), 'SAMLRequest', idpKeys.key),
      'SAML_LOGOUT_INVALID',
    ],
    [
      'an hour old',
      () => redirectQuery(request({ sessionIndex: '_idx-x', issueInstant: Date.now() - 3_600_000 }), 'SAMLRequest', idpKeys.key),
      'SAML_LOGOUT_INVALID',
    ],
    [
      'with a DTD',
      () => redirectQuery(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${request({ sessionIndex: '_idx-x' })}`, 'SAMLRequest', idpKeys.key),
      'SAML_LOGOUT_INVALID',
    ],
  ])('a LogoutRequest %s is refused and ends nothing', async (_what, build, code) => {
    const browser = await signedInWith('_idx-x');
    const res = await send(build());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code });
    expect(await alive(browser)).toBe(true);
  });
});
