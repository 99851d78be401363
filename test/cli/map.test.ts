import path from 'node:path';
import { clientSecret, runCli, sessionSecret, tempDir } from './run.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let configFile: string;

const upstream = {
  iss: 'https://tenant.example.auth0.com/',
  sub: 'auth0|42',
  aud: 'app',
  exp: 1767229200,
  iat: 1767225600,
  auth_time: 1767225590,
  nonce: 'n-123',
  email: 'Dana@Example.com',
  email_verified: 'true',
  name: 'Dana Reyes',
  nickname: 'dana',
  'https://example.com/roles': ['Admin', 'Analyst', 'billing-viewer'],
  org: { id: 'org_1', tier: 'gold' },
  extra: 'not mapped',
};

interface MapJson {
  connector: { id: string; type: string };
  claims: Record<string, unknown>;
  origins: Array<{ claim: string; value: unknown; from: string; rule: string; transforms: string[] }>;
  removed: string[];
  unmapped: string[];
  scope: string[];
  idToken: Record<string, unknown>;
  accessToken: Record<string, unknown>;
  placeholders: string[];
}

beforeAll(async () => {
  tmp = await tempDir();
  configFile = await tmp.write('gateway.json', {
    baseUrl: 'https://app.example.com',
    session: { secret: '${env:MAP_SESSION_SECRET}', redis: { url: 'redis://127.0.0.1:6379' } },
    tokens: {
      keys: './keys-that-map-never-reads.json',
      audience: 'https://api.example.com',
      accessTokenTtl: 120,
      scopes: { 'reports:read': { claim: 'roles', includes: 'analyst' }, 'billing:read': { claim: 'roles', includes: 'billing-viewer' } },
    },
    connectors: [
      {
        id: 'corp',
        type: 'oidc',
        issuer: 'https://tenant.example.auth0.com/',
        clientId: 'app',
        clientSecret: '${env:MAP_CLIENT_SECRET}',
        claims: {
          email: { from: 'email', lowercase: true },
          username: 'nickname',
          roles: { from: ['https://example.com/roles', 'realm_access.roles'], type: 'string[]', lowercase: true, match: '^(admin|analyst|billing-.*)$' },
          tier: 'org.tier',
          tenant: { value: 'acme' },
          picture: null,
        },
      },
      { id: 'strict', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'app', claims: { employee_id: { from: 'employee_id', required: true } } },
    ],
  });
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('fedgate map', () => {
  test('--json: local claims with their origins, scopes, and the token payloads fedgate would mint', async () => {
    const claims = await tmp.write('claims.json', upstream);
    const r = await runCli(['map', configFile, '--connector', 'corp', claims, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as MapJson;
    expect(out.connector).toEqual({ id: 'corp', type: 'oidc' });
    expect(out.claims).toEqual({
      sub: 'corp|auth0|42',
      email: 'dana@example.com',
      email_verified: true,
      name: 'Dana Reyes',
      username: 'dana',
      roles: ['admin', 'analyst', 'billing-viewer'],
      tier: 'gold',
      tenant: 'acme',
    });
    const origin = (claim: string) => out.origins.find((o) => o.claim === claim);
    expect(origin('sub')).toMatchObject({ from: 'sub', rule: 'preset', value: 'corp|auth0|42' });
    expect(origin('roles')).toEqual({
      claim: 'roles',
      value: ['admin', 'analyst', 'billing-viewer'],
      from: 'https://example.com/roles',
      rule: 'config',
      transforms: ['type string[]', 'lowercase', 'match /^(admin|analyst|billing-.*)$/'],
    });
    expect(origin('tier')).toMatchObject({ from: 'org.tier', rule: 'config', value: 'gold' });
    expect(origin('tenant')).toMatchObject({ from: 'constant', rule: 'config', value: 'acme' });
    expect(origin('email_verified')).toMatchObject({ from: 'email_verified', rule: 'preset', transforms: ['type boolean'] });
    expect(origin('given_name')).toMatchObject({ from: 'absent', rule: 'preset' });
    expect(origin('picture')).toBeUndefined();
    expect(out.removed).toEqual(['picture']);
    expect(out.unmapped).toEqual(['extra']);
    expect(out.scope).toEqual(['billing:read', 'reports:read']);
    expect(out.placeholders).toEqual(['MAP_SESSION_SECRET', 'MAP_CLIENT_SECRET']);

    expect(out.idToken).toMatchObject({
      iss: 'https://app.example.com/auth',
      sub: 'corp|auth0|42',
      aud: 'fedgate',
      auth_time: 1767225590,
      email: 'dana@example.com',
      tenant: 'acme',
    });
    expect(out.idToken).not.toHaveProperty('scope');
    expect(out.accessToken).toMatchObject({
      iss: 'https://app.example.com/auth',
      sub: 'corp|auth0|42',
      aud: 'https://api.example.com',
      client_id: 'fedgate',
      scope: 'billing:read reports:read',
      roles: ['admin', 'analyst', 'billing-viewer'],
    });
    expect(out.accessToken).not.toHaveProperty('email');
    expect(Number(out.accessToken.exp) - Number(out.accessToken.iat)).toBe(120);
  });

  test('human output: a table of claims, scopes, and both payloads', async () => {
    const claims = await tmp.write('claims-h.json', upstream);
    const r = await runCli(['map', configFile, '-c', 'corp', claims], { env: { MAP_SESSION_SECRET: sessionSecret, MAP_CLIENT_SECRET: clientSecret } });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('connector corp (oidc): 11 rules, 6 from the config, removed: picture');
    expect(lines[2]).toMatch(/^local claim\s+value\s+from\s+rule\s+transforms$/);
    expect(lines).toContainEqual(
      expect.stringMatching(/^roles\s+\["admin","analyst","billing-viewer"\]\s+https:\/\/example\.com\/roles\s+config\s+type string\[\], lowercase, match/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^tenant\s+"acme"\s+\(constant\)\s+config$/));
    expect(lines).toContainEqual(expect.stringMatching(/^given_name\s+-\s+\(absent\)\s+preset\s+type string$/));
    expect(lines).toContain('unmapped upstream claims: extra');
    expect(lines).toContain('local scopes: billing:read reports:read');
    expect(lines).toContain('ID token payload (header typ "JWT"):');
    expect(lines).toContain('access token payload (header typ "at+jwt"; only roles, groups and entitlements are copied):');
    expect(r.stdout).not.toContain('placeholders');
    for (const s of [sessionSecret, clientSecret]) expect(r.stdout + r.stderr).not.toContain(s);
  });

  test('a compact JWT as input (payload decoded, signature not checked) and a userinfo overlay', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = await tmp.write('id_token.txt', `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ ...upstream, nickname: 'from-id-token' })}.c2lnbmF0dXJl\n`);
    const userinfo = await tmp.write('userinfo.json', { sub: 'auth0|42', nickname: 'from-userinfo' });
    const r = await runCli(['map', configFile, '--connector', 'corp', jwt, '--userinfo', userinfo]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(claims decoded from a JWT payload; its signature was not checked)');
    expect(r.stdout).toMatch(/^username\s+"from-userinfo"\s+nickname\s+config$/m);
  });

  test('a required claim that is absent fails the mapping like a login would', async () => {
    const claims = await tmp.write('no-employee.json', { sub: 'u1' });
    const r = await runCli(['map', configFile, '--connector', 'strict', claims]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('mapping failed: CLAIM_REQUIRED_MISSING: Required claim "employee_id" is missing\n');
  });

  test("the example app's multi-vendor config maps its Auth0-style sample to the normalized profile", async () => {
    const r = await runCli(['map', 'example-app/gateway.multi.json', '--connector', 'acme', 'example-app/samples/acme-id-token.json', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as MapJson;
    expect(out.claims).toMatchObject({
      sub: 'acme|auth0|65f0c0ffee0000000000d0a1',
      username: 'dana',
      roles: ['analyst'],
      groups: ['acme:research'],
      tenant: 'acme',
    });
    expect(out.scope).toEqual(['profile:read', 'reports:read']);
  });

  test('bad input: unknown connector, missing or malformed claims file, invalid config', async () => {
    const claims = await tmp.write('ok.json', upstream);
    const unknown = await runCli(['map', configFile, '--connector', 'okta', claims]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`fedgate: no connector "okta" in ${configFile}; configured: corp, strict\n`);

    const missing = await runCli(['map', configFile, '--connector', 'corp', path.join(tmp.dir, 'absent.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`fedgate: claims file ${path.join(tmp.dir, 'absent.json')} does not exist\n`);

    const notJson = await tmp.write('not.json', 'email: dana@example.com');
    const bad = await runCli(['map', configFile, '--connector', 'corp', notJson]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`fedgate: claims file ${notJson} is not valid JSON (nor a compact JWT)\n`);

    const array = await tmp.write('array.json', [upstream]);
    const arr = await runCli(['map', configFile, '--connector', 'corp', array]);
    expect(arr.code).toBe(1);
    expect(arr.stderr).toBe(`fedgate: claims file ${array} must hold a JSON object of claims\n`);

    const noSub = await tmp.write('nosub.json', { email: 'x@example.com' });
    const ns = await runCli(['map', configFile, '--connector', 'corp', noSub]);
    expect(ns.code).toBe(1);
    expect(ns.stderr).toBe(`fedgate: claims file ${noSub} has no "sub": every ID token carries one\n`);

    const invalidConfig = await tmp.write('invalid.json', { baseUrl: 'https://app.example.com', connectors: [] });
    const ic = await runCli(['map', invalidConfig, '--connector', 'corp', claims]);
    expect(ic.code).toBe(1);
    expect(ic.stdout).toContain(`${invalidConfig}: invalid\n`);
    expect(ic.stdout).toContain('session: required');
    expect(ic.stdout).toContain('connectors: at least one connector is required');
  });

  test('command-line mistakes exit 2', async () => {
    const noConnector = await runCli(['map', configFile, 'claims.json']);
    expect(noConnector.code).toBe(2);
    expect(noConnector.stderr).toMatch(/^fedgate: missing --connector <id>\n\nUsage: fedgate map/);
    const noClaims = await runCli(['map', configFile, '--connector', 'corp']);
    expect(noClaims.code).toBe(2);
    expect(noClaims.stderr).toMatch(/^fedgate: missing argument <claims\.json>\n/);
    const valueless = await runCli(['map', configFile, 'claims.json', '--connector']);
    expect(valueless.code).toBe(2);
    expect(valueless.stderr).toMatch(/^fedgate: Option '-c, --connector <value>' argument missing\n/);
  });
});
