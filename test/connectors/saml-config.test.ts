/**
 * Configuration of the `saml` connector: key checks, and the IdP metadata source (a real HTTP
 * server publishing metadata): cached, refreshed, last good copy kept, size-capped, no DTD,
 * aggregates picked by `idpIssuer`, inline and file metadata, rotation through metadata.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { fedgate, type Gateway } from '../../index.js';
import { builtinConnectors } from '../../connectors/registry.js';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError } from '../../lib/errors.js';
import { createBrowser } from '../fixtures/browser.js';
import { closeServer, listenEphemeral } from '../fixtures/ports.js';
import { startRedis, type RedisServer } from '../fixtures/redis.js';
import { SESSION_SECRET, recordingLogger, testKeys } from '../fixtures/stack.js';
import { assertionXml, b64, idpMetadataXml, makeKeyPair, readAuthnRequest, responseXml, sign, type KeyPair } from '../fixtures/saml-idp.js';

const entityId = 'https://idp.meta.test/entity';
const ssoUrl = 'https://idp.meta.test/sso';

let redis: RedisServer;
let metaServer: Server;
let metaUrl: string;
let keysA: KeyPair;
let keysB: KeyPair;
/** What the metadata server answers next. */
let serve: { status: number; body: string } = { status: 200, body: '' };
let fetches = 0;
let tmp: string;
const gateways: Array<{ gateway: Gateway; server: Server }> = [];

beforeAll(async () => {
  [keysA, keysB] = await Promise.all([makeKeyPair('idp-a'), makeKeyPair('idp-b')]);
  redis = await startRedis();
  tmp = await mkdtemp(path.join(tmpdir(), 'fedgate-saml-config-'));
  metaServer = createServer((_req, res) => {
    fetches++;
    res.statusCode = serve.status;
    res.setHeader('content-type', 'application/samlmetadata+xml');
    res.end(serve.body);
  });
  metaUrl = `http://127.0.0.1:${await listenEphemeral(metaServer)}/metadata.xml`;
});

afterAll(async () => {
  for (const g of gateways) {
    await g.gateway.close();
    await closeServer(g.server);
  }
  await closeServer(metaServer);
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const baseConfig = async () => ({
  session: { secret: SESSION_SECRET, redis: { url: redis.url } },
  tokens: { keys: (await testKeys()) as { keys: Record<string, unknown>[] } },
});

function problemsOf(connector: Record<string, unknown>, allowInsecureRequests = false): string[] {
  try {
    loadConfig(
      {
        baseUrl: 'https://app.example.com',
        allowInsecureRequests,
        session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:6379' } },
        tokens: { insecureEphemeralKeys: true },
        connectors: [{ id: 's', type: 'saml', ...connector }],
      },
      { registry: builtinConnectors },
    );
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe('configuration checks', () => {
  test.each([
    [{}, 'connectors[0].metadataUrl: required: the IdP comes from metadataUrl, metadata, or entryPoint with idpCert and idpIssuer'],
    [{ entryPoint: 'https://idp.example.com/sso' }, 'connectors[0].idpCert: required with entryPoint (no metadata to take the certificate from)'],
    [
      { entryPoint: 'https://idp.example.com/sso', idpCert: 'MIIC'.padEnd(64, 'A') },
      'connectors[0].idpIssuer: required with entryPoint (the issuer every response must name)',
    ],
    [{ metadataUrl: 'http://idp.example.com/md' }, 'connectors[0].metadataUrl: must be https (http needs allowInsecureRequests, development only)'],
    [{ metadataUrl: 'https://idp.example.com/md', metadata: '<x/>' }, 'connectors[0].metadata: cannot be combined with metadataUrl'],
    [{ metadataUrl: 'https://idp.example.com/md', spKeyFile: 'sp.key' }, 'connectors[0].spCertFile: spKeyFile and spCertFile go together'],
    [
      { metadataUrl: 'https://idp.example.com/md', requireEncryptedAssertions: true },
      'connectors[0].requireEncryptedAssertions: needs spKeyFile (the key that decrypts)',
    ],
    [
      { metadataUrl: 'https://idp.example.com/md', wantAssertionsSigned: false },
      'connectors[0].wantAssertionsSigned: false needs wantResponseSigned: true (something must be signed)',
    ],
    [{ metadataUrl: 'https://idp.example.com/md', clientId: 'x' }, 'connectors[0].clientId: unknown key'],
  ])('%j is refused', (connector, problem) => {
    expect(problemsOf(connector).some((p) => p.startsWith(problem))).toBe(true);
  });

  test('a minimal metadataUrl connector is valid; http only with allowInsecureRequests', () => {
    expect(problemsOf({ metadataUrl: 'https://idp.example.com/md' })).toEqual([]);
    expect(problemsOf({ metadataUrl: 'http://idp.example.com/md' }, true)).toEqual([]);
  });
});

/** An app with one saml connector and a settable clock; returns helpers to start a login. */
async function app(connector: Record<string, unknown>, opts: { configFile?: boolean } = {}) {
  let now = Date.now();
  const ex = express();
  const server = createServer(ex);
  const base = `http://127.0.0.1:${await listenEphemeral(server)}`;
  const config = {
    baseUrl: base,
    allowInsecureRequests: true,
    httpTimeout: 2,
    ...(await baseConfig()),
    connectors: [{ id: 'meta', type: 'saml', ...connector }],
  };
  let input: string | typeof config = config;
  if (opts.configFile) {
    input = path.join(tmp, `gateway-${Date.now()}.json`);
    await writeFile(input, JSON.stringify(config));
  }
  const gateway = fedgate(input, { logger: recordingLogger(), now: () => now });
  ex.use(gateway);
  gateways.push({ gateway, server });
  return {
    base,
    gateway,
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
    /** GET /auth/login/meta: the IdP URL, or the refusal. */
    async login() {
      const res = await fetch(`${base}/auth/login/meta`, { redirect: 'manual', headers: { accept: 'application/json' } });
      return {
        status: res.status,
        location: res.headers.get('location') ?? '',
        body: res.status === 302 ? undefined : ((await res.json()) as { code: string }),
      };
    },
  };
}

describe('metadata from metadataUrl', () => {
  test('fetched once, cached, refreshed after metadataRefresh; a failed refresh keeps the last good copy', async () => {
    serve = { status: 200, body: idpMetadataXml({ entityId, ssoUrl, certs: [keysA.cert] }) };
    fetches = 0;
    const a = await app({ metadataUrl: metaUrl, metadataRefresh: 600 });
    await a.gateway.ready();
    expect((await a.login()).location.startsWith(`${ssoUrl}?SAMLRequest=`)).toBe(true);
    expect((await a.login()).status).toBe(302);
    expect(fetches).toBe(1);
    a.advance(601);
    serve = { status: 200, body: idpMetadataXml({ entityId, ssoUrl: 'https://idp.meta.test/sso-v2', certs: [keysA.cert] }) };
    expect((await a.login()).location.startsWith('https://idp.meta.test/sso-v2?')).toBe(true);
    expect(fetches).toBe(2);
    a.advance(601);
    serve = { status: 500, body: 'down' };
    expect((await a.login()).location.startsWith('https://idp.meta.test/sso-v2?')).toBe(true);
    expect(fetches).toBe(3);
    expect((await a.gateway.health()).connectors[0]).toMatchObject({ id: 'meta', state: 'ready' });
  });

  test('a certificate rotated in the metadata verifies after the refresh, the old one no longer', async () => {
    serve = { status: 200, body: idpMetadataXml({ entityId, ssoUrl, certs: [keysA.cert] }) };
    const a = await app({ metadataUrl: metaUrl, metadataRefresh: 60 });
    const attempt = async (keys: KeyPair) => {
      const browser = createBrowser();
      const started = await browser.follow(`${a.base}/auth/login/meta`, { stopAt: (u) => u.href.startsWith(ssoUrl) });
      const req = readAuthnRequest(started.stoppedAt!);
      const assertion = sign(
        assertionXml({
          issuer: entityId,
          nameIdXml: 'u1',
          audience: `${a.base}/auth/saml/meta`,
          recipient: `${a.base}/auth/callback/meta`,
          inResponseTo: req.id,
        }),
        { ...keys, element: 'Assertion' },
      );
      const res = await browser.post(
        `${a.base}/auth/callback/meta`,
        {
          SAMLResponse: b64(responseXml({ issuer: entityId, destination: `${a.base}/auth/callback/meta`, inResponseTo: req.id, body: assertion })),
          RelayState: req.relayState,
        },
        { headers: { accept: 'application/json' } },
      );
      return res.status === 200 ? 'accepted' : res.json<{ code: string }>().code;
    };
    expect(await attempt(keysA)).toBe('accepted');
    expect(await attempt(keysB)).toBe('SAML_SIGNATURE_INVALID');
    serve = { status: 200, body: idpMetadataXml({ entityId, ssoUrl, certs: [keysB.cert] }) };
    a.advance(61);
    expect(await attempt(keysB)).toBe('accepted');
    expect(await attempt(keysA)).toBe('SAML_SIGNATURE_INVALID');
  });

  test.each([
    [
      'larger than 2 MB',
      'UPSTREAM_UNAVAILABLE',
      () => ({ status: 200, body: `<!-- ${'x'.repeat(2 * 1024 * 1024 + 10)} -->${idpMetadataXml({ entityId, ssoUrl, certs: [keysA.cert] })}` }),
    ],
    [
      'with a DTD',
      'UPSTREAM_RESPONSE_INVALID',
      () => ({ status: 200, body: `<!DOCTYPE m [<!ENTITY e SYSTEM "file:///etc/passwd">]>${idpMetadataXml({ entityId, ssoUrl, certs: [keysA.cert] })}` }),
    ],
    ['without a signing certificate', 'UPSTREAM_RESPONSE_INVALID', () => ({ status: 200, body: idpMetadataXml({ entityId, ssoUrl, certs: [] }) })],
    [
      'an aggregate of two IdPs without idpIssuer',
      'UPSTREAM_RESPONSE_INVALID',
      () => ({
        status: 200,
        body: `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${[entityId, 'https://other.test/idp'].map((e) => idpMetadataXml({ entityId: e, ssoUrl, certs: [keysA.cert] }).replace('<?xml version="1.0"?>', '')).join('')}</md:EntitiesDescriptor>`,
      }),
    ],
    ['answering 404', 'UPSTREAM_UNAVAILABLE', () => ({ status: 404, body: 'not here' })],
  ])('metadata %s leaves the connector unavailable (503; readiness says why), its SP metadata still served', async (_what, why, make) => {
    serve = make();
    const a = await app({ metadataUrl: metaUrl });
    const res = await a.login();
    expect({ status: res.status, code: res.body?.code }).toEqual({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
    expect((await a.gateway.health()).connectors[0]).toMatchObject({ id: 'meta', state: 'failed', error: why });
    expect((await fetch(`${a.base}/auth/saml/meta/metadata`)).status).toBe(200);
  });

  test('an aggregate picks the IdP named by idpIssuer', async () => {
    serve = {
      status: 200,
      body: `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${[
        ['https://other.test/idp', 'https://other.test/sso'],
        [entityId, ssoUrl],
      ]
        .map(([e, s]) => idpMetadataXml({ entityId: e!, ssoUrl: s!, certs: [keysA.cert] }).replace('<?xml version="1.0"?>', ''))
        .join('')}</md:EntitiesDescriptor>`,
    };
    const a = await app({ metadataUrl: metaUrl, idpIssuer: entityId });
    expect((await a.login()).location.startsWith(`${ssoUrl}?`)).toBe(true);
  });
});

describe('metadata inline or from a file', () => {
  test('inline XML', async () => {
    const a = await app({ metadata: idpMetadataXml({ entityId, ssoUrl, certs: [keysA.cert] }) });
    expect((await a.login()).location.startsWith(`${ssoUrl}?SAMLRequest=`)).toBe(true);
  });

  test('a file path relative to the config file', async () => {
    await writeFile(path.join(tmp, 'idp-metadata.xml'), idpMetadataXml({ entityId, ssoUrl: 'https://idp.meta.test/from-file', certs: [keysA.cert] }));
    const a = await app({ metadata: './idp-metadata.xml' }, { configFile: true });
    expect((await a.login()).location.startsWith('https://idp.meta.test/from-file?')).toBe(true);
  });
});
