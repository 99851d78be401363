/**
 * The CLI with a `saml` connector: `check --probe` loads and checks a real IdP's metadata
 * (SimpleSAMLphp), `map` reads a SAML assertion sample (XML) as the upstream claims.
 */
import { generatePrivateJwk } from '../../lib/tokens/keys.js';
import { startSimpleSamlPhp, type SimpleSamlPhp } from '../fixtures/simplesamlphp.js';
import { assertionXml, responseXml } from '../fixtures/saml-idp.js';
import { runCli, sessionSecret, tempDir } from './run.js';
import { startRedis, stopAllRedis, type RedisServer } from '../fixtures/redis.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let ssp: SimpleSamlPhp;
let redis: RedisServer;
const env = { CLI_SESSION_SECRET: sessionSecret };

function config(connector: Record<string, unknown>): Record<string, unknown> {
  return {
    baseUrl: 'http://localhost:3000',
    allowInsecureRequests: true,
    session: { secret: '${env:CLI_SESSION_SECRET}', redis: { url: redis.url } },
    tokens: { keys: './jwks.json', scopes: { 'admin:all': { claim: 'groups', includes: 'admins' } } },
    connectors: [{ id: 'corpsaml', type: 'saml', name: 'Corp SAML', logout: 'upstream', ...connector }],
  };
}

beforeAll(async () => {
  tmp = await tempDir();
  await tmp.write('jwks.json', { keys: [await generatePrivateJwk('ES256')] });
  [ssp, redis] = await Promise.all([startSimpleSamlPhp(), startRedis()]);
}, 60_000);
afterAll(async () => {
  await ssp?.stop();
  await stopAllRedis();
  await tmp?.cleanup();
});

describe('fedgate check --probe with a saml connector', () => {
  test('loads the IdP metadata and says what to register there', async () => {
    const file = await tmp.write('probe.json', config({ metadataUrl: ssp.metadataUrl }));
    const r = await runCli(['check', file, '--probe'], { env, timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`connector   corpsaml (saml, "Corp SAML") metadata ${ssp.metadataUrl}`);
    expect(r.stdout).toContain('probe corpsaml (saml):');
    expect(r.stdout).toContain(`GET ${ssp.metadataUrl} -> 200`);
    expect(r.stdout).toMatch(new RegExp(`idp entity id\\s+${ssp.entityId.replace(/[.?]/g, '\\$&')}`));
    expect(r.stdout).toMatch(/SingleSignOnService\s+http:\/\/127\.0\.0\.1:\d+\/simplesaml\/saml2\/idp\/SSOService\.php/);
    expect(r.stdout).toMatch(/signing certificate\s+CN=simplesamlphp-test-idp, valid until/);
    expect(r.stdout).toMatch(/register ACS\s+http:\/\/localhost:3000\/auth\/callback\/corpsaml \(HTTP-POST\)/);
    // The test IdP's certificate lives two days: the probe says to prepare the next one.
    expect(r.stdout).toMatch(/warning\s+a signing certificate expires in [01] days/);
  }, 40_000);

  test('metadata that cannot be loaded is a problem (exit 1)', async () => {
    const file = await tmp.write('probe-bad.json', config({ metadataUrl: `${ssp.url}/saml2/idp/no-such-metadata.php` }));
    const r = await runCli(['check', file, '--probe'], { env, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/connectors\[0\] \(corpsaml\): SAML metadata rejected: UPSTREAM_UNAVAILABLE/);
  }, 40_000);
});

describe('fedgate map with a SAML sample', () => {
  test('maps the attributes of a SAML Response as a sign-in would', async () => {
    const assertion = assertionXml({
      issuer: 'https://idp.example.com/entity',
      nameIdXml: 'a1b2c3',
      audience: 'x',
      recipient: 'y',
      sessionIndex: '_s1',
      attributes: {
        'urn:oid:0.9.2342.19200300.100.1.3': ['dana@example.com'],
        'urn:oid:2.5.4.42': ['Dana'],
        groups: ['admins', 'ops'],
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname': ['Reyes'],
      },
    });
    const sample = await tmp.write('sample.xml', responseXml({ issuer: 'https://idp.example.com/entity', destination: 'y', body: assertion }));
    const file = await tmp.write(
      'map.json',
      config({
        entryPoint: 'https://idp.example.com/sso',
        idpIssuer: 'https://idp.example.com/entity',
        idpCert: 'MIIC'.padEnd(64, 'A'),
        claims: { team: { from: 'groups', type: 'string[]' } },
      }),
    );
    const r = await runCli(['map', file, '--connector', 'corpsaml', sample, '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { claims: Record<string, unknown>; scope: string[]; origins: Array<{ claim: string; from: string }> };
    expect(out.claims).toMatchObject({
      sub: 'corpsaml|a1b2c3',
      email: 'dana@example.com',
      email_verified: false,
      given_name: 'Dana',
      family_name: 'Reyes',
      groups: ['admins', 'ops'],
      team: ['admins', 'ops'],
    });
    expect(out.scope).toEqual(['admin:all']);
    expect(out.origins).toContainEqual(expect.objectContaining({ claim: 'email', from: 'urn:oid:0.9.2342.19200300.100.1.3' }));
    const text = await runCli(['map', file, '--connector', 'corpsaml', sample], { env });
    expect(text.stdout).toContain('(claims read from a SAML assertion sample; its signature, audience and times were not checked)');
  });

  test('XML that is not an assertion is an input error', async () => {
    const sample = await tmp.write('bad.xml', '<foo/>');
    const file = await tmp.write(
      'map2.json',
      config({ entryPoint: 'https://idp.example.com/sso', idpIssuer: 'https://idp.example.com/entity', idpCert: 'MIIC'.padEnd(64, 'A') }),
    );
    const r = await runCli(['map', file, '--connector', 'corpsaml', sample], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.xml: the sample holds no plain Assertion/);
  });
});
