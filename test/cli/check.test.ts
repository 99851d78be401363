import { readFileSync } from 'node:fs';
import { closeAllOps, getSharedKey, startOp, type TestOp } from '../fixtures/op.js';
import { generatePrivateJwk } from '../../lib/tokens/keys.js';
import { clientSecret, runCli, sessionSecret, tempDir } from './run.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let op: TestOp;
let kid: string;

const env = { CLI_SESSION_SECRET: sessionSecret, CLI_CLIENT_SECRET: clientSecret };

function config(issuer: string, patch: (c: Record<string, unknown>) => void = () => {}): Record<string, unknown> {
  const c: Record<string, unknown> = {
    baseUrl: 'http://localhost:3000',
    allowInsecureRequests: true,
    session: { secret: '${env:CLI_SESSION_SECRET}', redis: { url: 'redis://:redis-password-not-for-output@127.0.0.1:6390/0' } },
    tokens: { keys: './jwks.json', scopes: { 'reports:read': { claim: 'roles', includes: 'analyst' } } },
    connectors: [
      { id: 'corp', type: 'oidc', name: 'Corporate SSO', issuer, clientId: 'app', clientSecret: '${env:CLI_CLIENT_SECRET}', domains: ['example.com'] },
    ],
  };
  patch(c);
  return c;
}

const noSecrets = (text: string) => {
  for (const s of [sessionSecret, clientSecret, 'redis-password-not-for-output']) expect(text).not.toContain(s);
};

beforeAll(async () => {
  tmp = await tempDir();
  const jwk = await generatePrivateJwk('ES256');
  kid = String(jwk.kid);
  await tmp.write('jwks.json', { keys: [jwk] });
  op = await startOp();
});
afterAll(async () => {
  await closeAllOps();
  await tmp.cleanup();
});
afterEach(() => op.reset());

describe('fedgate check', () => {
  test('a valid config: summary, warnings for development switches, no secret printed', async () => {
    const file = await tmp.write('valid.json', config(op.issuer));
    const r = await runCli(['check', file], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`${file}: valid`);
    expect(lines).toContain('  baseUrl     http://localhost:3000 (auth routes under /auth)');
    expect(lines).toContain('  sessions    redis 127.0.0.1:6390; idle 1800 s, absolute 43200 s');
    expect(lines).toContain(`  tokens      issuer http://localhost:3000/auth, audience http://localhost:3000; 1 key, signing with ES256 kid ${kid}`);
    expect(lines).toContain('  scopes      reports:read');
    expect(lines).toContain(`  connector   corp (oidc, "Corporate SSO") ${op.issuer} domains example.com`);
    expect(lines).toContain('warning: allowInsecureRequests is on: http upstreams allowed (development only)');
    expect(op.requests).toHaveLength(0); // without --probe nothing goes to the network
    noSecrets(r.stdout);
  });

  test('every problem at once, each as "path: message", exit 1', async () => {
    const file = await tmp.write(
      'invalid.json',
      config(op.issuer, (c) => {
        c.colour = 'blue';
        c.session = { secret: '${env:CLI_MISSING_SECRET}', redis: { url: 'http://not-redis' } };
        c.connectors = [
          { id: 'corp', type: 'oidc', issuer: op.issuer },
          { id: 'b', type: 'nope', clientId: 'x' },
        ];
      }),
    );
    const r = await runCli(['check', file], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${file}: invalid`);
    expect(lines).toEqual(
      expect.arrayContaining([
        'session.secret: environment variable CLI_MISSING_SECRET is not set',
        'colour: unknown key',
        'session.redis.url: must be a redis:// or rediss:// URL',
        'connectors[0].clientId: required',
      ]),
    );
    expect(lines.some((l) => l.startsWith('connectors[1].type: '))).toBe(true);
    expect(lines.every((l, i) => i === 0 || /^[\w.[\]()]+: .+/.test(l))).toBe(true);
    noSecrets(r.stdout);
  });

  test('a baseUrl that is not a URL at all is a reported problem, not a crash', async () => {
    const file = await tmp.write(
      'not-url.json',
      config(op.issuer, (c) => {
        c.baseUrl = 'app.example.com';
      }),
    );
    const r = await runCli(['check', file], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${file}: invalid\nbaseUrl: Invalid URL\n`);
    expect(r.stderr).toBe('');
  });

  test('tokens.keys is loaded too: a public key or a missing file is a problem', async () => {
    const pub = { ...getSharedKey().publicJwk, kid: 'pub-1' };
    await tmp.write('public-jwks.json', { keys: [pub] });
    const file = await tmp.write(
      'pubkeys.json',
      config(op.issuer, (c) => {
        c.tokens = { keys: './public-jwks.json' };
      }),
    );
    const r = await runCli(['check', file], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('tokens.keys.keys[0].d: required: this is a public key, tokens.keys needs private keys');
    expect(r.stdout).not.toContain(String(pub.n));

    const missing = await tmp.write(
      'nokeys.json',
      config(op.issuer, (c) => {
        c.tokens = { keys: './absent.json' };
      }),
    );
    const m = await runCli(['check', missing], { env });
    expect(m.code).toBe(1);
    expect(m.stdout).toContain(`tokens.keys: cannot read "${tmp.dir}/absent.json" as a JSON JWKS file`);
  });

  test('an unreadable or malformed config file', async () => {
    const absent = await runCli(['check', `${tmp.dir}/nope.json`], { env });
    expect(absent.code).toBe(1);
    expect(absent.stdout).toBe(`${tmp.dir}/nope.json: invalid\n(file): nope.json cannot be read\n`);
    const bad = await tmp.write('bad.json', '{ "baseUrl": ');
    const b = await runCli(['check', bad], { env });
    expect(b.code).toBe(1);
    expect(b.stdout).toBe(`${bad}: invalid\n(file): bad.json is not valid JSON: unexpected end of file at line 1, column 14\n`);
  });

  test('a JSON syntax error names line and column, a duplicate key its path, and no content is quoted', async () => {
    const text = JSON.stringify(config(op.issuer), null, 2);
    const missingComma = await tmp.write('comma.json', text.replace('"allowInsecureRequests": true,', '"allowInsecureRequests": true'));
    const r = await runCli(['check', missingComma], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${missingComma}: invalid\n(file): comma.json is not valid JSON: expected ',' or '}' at line 4, column 3\n`);
    const dup = await tmp.write('dup.json', text.replace('"clientId": "app",', `"clientId": "app",\n      "clientSecret": "${clientSecret}",`));
    const d = await runCli(['check', dup], { env });
    expect(d.code).toBe(1);
    // The second occurrence is the one named.
    const second =
      readFileSync(dup, 'utf8')
        .split('\n')
        .findLastIndex((l) => l.includes('"clientSecret"')) + 1;
    expect(d.stdout).toBe(
      `${dup}: invalid\nconnectors[0].clientSecret: duplicate key in dup.json (line ${second}, column 7): JSON would silently keep only the last one\n`,
    );
    noSecrets(d.stdout);
  });

  test("a bad connector type hides none of the entry's other problems; unknown keys get the nearest known key", async () => {
    const file = await tmp.write(
      'typo.json',
      config(op.issuer, (c) => {
        c.connectors = [
          { id: 'corp', type: 'oicd', name: '', issuer: op.issuer, clientID: 'app' },
          { id: 'kc', type: 'keycloak', url: op.issuer, realm: 'main', clientId: 'app', scope: ['openid'] },
        ];
        c.sesion = {};
      }),
    );
    const r = await runCli(['check', file], { env });
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${file}: invalid`,
      'sesion: unknown key; did you mean session?',
      'connectors[0].type: must be one of oidc, auth0, okta, cognito, keycloak, entrust, azure-ad, azure-b2c, github, saml; did you mean oidc?',
      'connectors[0].name: Too small: expected string to have >=1 characters',
      'connectors[0].clientId: required',
      'connectors[1].scope: unknown key; did you mean scopes?',
    ]);
  });

  test('command-line mistakes exit 2 with the usage', async () => {
    const none = await runCli(['check']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^fedgate: missing argument <config\.json>\n\nUsage: fedgate check/);
    const flag = await runCli(['check', 'x.json', '--probes']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^fedgate: Unknown option '--probes'\n/);
    const timeout = await runCli(['check', 'x.json', '--probe', '--timeout', 'soon']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toMatch(/^fedgate: --timeout must be a number of seconds between 0 and 120\n/);
    const extra = await runCli(['check', 'a.json', 'b.json']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/^fedgate: unexpected argument "b\.json"\n/);
    const command = await runCli(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/^fedgate: unknown command "frobnicate"\n\nUsage: fedgate <command>/);
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toMatch(/^Usage: fedgate <command>/);
    const help = await runCli(['check', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: fedgate check <config\.json> \[--probe\]/);
  });
});
