import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, fedgate, type ConfigInput } from '../../../index.js';
import { builtinConnectors } from '../../../connectors/registry.js';
import { loadConfig } from '../../../lib/config/load.js';
import { generatePrivateJwk } from '../../../lib/tokens/keys.js';

// Refusals of issue "Configuration: refuse what cannot be right, all at once", through fedgate()
// and loadConfig with config files and objects.

const SESSION_SECRET = 'refusal-test-session-secret-0123456789-abcdefgh';
const CLIENT_SECRET = 'refusal-test-client-secret-PLANTED-abcdef012345';

let jwk: Record<string, unknown>;
let jwk2: Record<string, unknown>;
const dirs: string[] = [];
beforeAll(async () => {
  jwk = (await generatePrivateJwk('ES256')) as unknown as Record<string, unknown>;
  jwk2 = (await generatePrivateJwk('ES256')) as unknown as Record<string, unknown>;
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fedgate-refusals-'));
  dirs.push(dir);
  return dir;
}

type Json = Record<string, unknown>;
function valid(): Json & { session: Json; tokens: Json; connectors: Json[] } {
  return {
    baseUrl: 'https://app.example.com',
    session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1/0' } },
    tokens: { keys: { keys: [structuredClone(jwk)] } },
    connectors: [{ id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'app', clientSecret: CLIENT_SECRET }],
  };
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
function configError(config: object | string, opts: { nodeEnv?: string; env?: Record<string, string> } = {}): ConfigError {
  let gateway: ReturnType<typeof fedgate>;
  try {
    gateway = fedgate(config as ConfigInput, { env: opts.env ?? {}, nodeEnv: opts.nodeEnv ?? 'test', logger: quiet });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  void gateway.close();
  throw new Error('expected a ConfigError');
}
const lines = (err: ConfigError) => err.problems.map((p) => `${p.path}: ${p.message}`);
const load = (input: string | object, nodeEnv = 'test') => loadConfig(input, { registry: builtinConnectors, env: {}, nodeEnv });

function writeFile(name: string, content: string | Buffer): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, content);
  return file;
}

describe('config files are read strictly', () => {
  test('a key given twice in one object is refused, naming the file, the path and the position', () => {
    const c = valid();
    const text = JSON.stringify(c, null, 2).replace(
      `"clientSecret": "${CLIENT_SECRET}"`,
      `"clientSecret": "${CLIENT_SECRET}",\n      "clientSecret": "other-secret-value-0123456789"`,
    );
    const file = writeFile('dup.json', text);
    const err = configError(file);
    expect(err.code).toBe('CONFIG_INVALID');
    const line = text.split('\n').findIndex((l) => l.includes('"clientSecret": "other')) + 1;
    expect(lines(err)).toEqual([`connectors[0].clientSecret: duplicate key in dup.json (line ${line}, column 7): JSON would silently keep only the last one`]);
    expect(err.message).not.toContain(CLIENT_SECRET);
  });

  test('duplicates at the top level and deep inside are all reported, together with the other problems', () => {
    const file = writeFile(
      'dups.json',
      '{"baseUrl": "https://a.example.com", "baseUrl": "https://b.example.com",\n "session": {"secret": "short", "secret": "short"}, "connectors": [] }',
    );
    const err = configError(file);
    expect(lines(err)).toEqual(
      expect.arrayContaining([
        'baseUrl: duplicate key in dups.json (line 1, column 38): JSON would silently keep only the last one',
        'session.secret: duplicate key in dups.json (line 2, column 33): JSON would silently keep only the last one',
        'session.secret: must be at least 32 characters',
        'connectors: at least one connector is required',
      ]),
    );
  });

  test.each<[string, string, string]>([
    ['an array', '[{"baseUrl": "https://app.example.com"}]', 'an array'],
    ['a number', '42', 'a number'],
    ['a string', '"gateway"', 'a string'],
    ['null', 'null', 'null'],
  ])('a root that is %s is refused naming the file', (_name, text, kind) => {
    const err = configError(writeFile('root.json', text));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(lines(err)).toEqual([`(root): root.json must contain a JSON object, not ${kind}`]);
  });

  test('a file that is not UTF-8 (Latin-1 bytes) is refused, not decoded into U+FFFD', () => {
    const c = valid();
    c.connectors[0]!.clientSecret = `${CLIENT_SECRET}-caf\u00e9`;
    const file = writeFile('latin1.json', Buffer.from(JSON.stringify(c), 'latin1'));
    const err = configError(file);
    expect(err.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(lines(err)).toEqual(['(file): latin1.json is not valid UTF-8 (Latin-1 or another encoding?); save it as UTF-8']);
  });

  test('UTF-16 files, with or without a BOM, are refused naming the file', () => {
    const text = JSON.stringify(valid());
    const noBom = configError(writeFile('utf16.json', Buffer.from(text, 'utf16le')));
    expect(noBom.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(lines(noBom)).toEqual(['(file): utf16.json is not UTF-8 text (it contains NUL bytes, as UTF-16 does); save it as UTF-8']);
    const bom = configError(writeFile('bom16.json', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])));
    expect(lines(bom)).toEqual(['(file): bom16.json is UTF-16 text; save it as UTF-8']);
  });

  test('a UTF-8 file with a BOM and non-ASCII text loads, the text intact', () => {
    const c = valid();
    c.connectors[0]!.name = 'Société Générale SSO';
    const file = writeFile('bom8.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(c), 'utf8')]));
    expect(load(file).connectors[0]!.name).toBe('Société Générale SSO');
  });

  test('a JSON syntax error names the line and the column, never the content', () => {
    const file = writeFile('syntax.json', `{\n  "baseUrl": "https://app.example.com",\n  "session": { "secret": "${CLIENT_SECRET}" }\n  "connectors": []\n}`);
    const err = configError(file);
    expect(err.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(lines(err)).toEqual(["(file): syntax.json is not valid JSON: expected ',' or '}' at line 4, column 3"]);
    expect(err.message).not.toContain(CLIENT_SECRET);
    const eof = configError(writeFile('eof.json', '{ "baseUrl": '));
    expect(lines(eof)).toEqual(['(file): eof.json is not valid JSON: unexpected end of file at line 1, column 14']);
  });

  test('a "__proto__" key anywhere in a config is refused by path (JSON.parse keeps it, zod would drop it silently)', () => {
    const c = valid();
    const text = JSON.stringify(c).replace('"clientId":"app"', '"clientId":"app","claims":{"__proto__":"email","email":"email"}');
    const err = configError(writeFile('proto.json', text));
    expect(lines(err)).toEqual(['connectors[0].claims.__proto__: is not an allowed key']);
    const obj = configError(JSON.parse(text.replace('"session":', '"__proto__":{"x":1},"session":')) as object);
    expect(lines(obj)).toEqual(['__proto__: is not an allowed key', 'connectors[0].claims.__proto__: is not an allowed key']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('cross-field rules', () => {
  test('session.idleTimeout must not exceed session.absoluteTimeout', () => {
    const c = valid();
    c.session.idleTimeout = 7200;
    c.session.absoluteTimeout = 3600;
    expect(lines(configError(c))).toEqual(['session.idleTimeout: must not exceed session.absoluteTimeout (3600 s)']);
    // Set alone, each is compared with the other's default.
    const idle = valid();
    idle.session.idleTimeout = 50_000;
    expect(lines(configError(idle))).toEqual(['session.idleTimeout: must not exceed session.absoluteTimeout (43200 s, the default)']);
  });

  test('token lifetimes must not exceed session.absoluteTimeout', () => {
    const c = valid();
    c.session.absoluteTimeout = 600;
    c.session.idleTimeout = 300;
    c.tokens.accessTokenTtl = 900;
    c.tokens.idTokenTtl = 601;
    expect(lines(configError(c))).toEqual([
      'tokens.accessTokenTtl: must not exceed session.absoluteTimeout (600 s): a token must not outlive every session it could come from',
      'tokens.idTokenTtl: must not exceed session.absoluteTimeout (600 s): a token must not outlive every session it could come from',
    ]);
  });

  test('a short absoluteTimeout caps the defaults instead of being refused', () => {
    const c = valid();
    c.session.absoluteTimeout = 120;
    const config = load(c);
    expect(config.session.idleTimeout).toBe(120);
    expect(config.tokens.accessTokenTtl).toBe(120);
    expect(config.tokens.idTokenTtl).toBe(120);
  });

  test('cross-field checks still run beside schema problems elsewhere, and never on a section that failed', () => {
    const c = valid();
    c.basePath = 'no-slash';
    c.session.idleTimeout = 9000;
    c.session.absoluteTimeout = 'long';
    c.tokens.accessTokenTtl = 99_999;
    const err = configError(c);
    // absoluteTimeout failed the schema: nothing is compared with it, and nothing crashes.
    expect(lines(err)).toEqual(['basePath: must start with "/" and not end with "/"', 'session.absoluteTimeout: must be a number']);
  });
});

describe('every problem at once', () => {
  test('an entry whose type is unknown still gets its common keys checked', () => {
    const c = valid();
    c.connectors = [{ id: 'corp', type: 'oidcc', issuer: 'https://idp.example.com', scopes: [] }];
    expect(lines(configError(c))).toEqual([
      'connectors[0].type: must be one of oidc, auth0, okta, cognito, keycloak, entrust, azure-ad, azure-b2c, github, saml; did you mean oidc?',
      'connectors[0].clientId: required',
      'connectors[0].scopes: Too small: expected array to have >=1 items',
    ]);
  });

  test('a missing type is reported with the other problems of the entry', () => {
    const c = valid();
    c.connectors = [{ id: 'corp', issuer: 'https://idp.example.com' }];
    expect(lines(configError(c))).toEqual([
      'connectors[0].type: required, one of oidc, auth0, okta, cognito, keycloak, entrust, azure-ad, azure-b2c, github, saml',
      'connectors[0].clientId: required',
    ]);
  });

  test('an unknown key suggests the nearest known one, at every level', () => {
    const c = valid();
    c.connectors[0]!.clientID = 'app';
    delete c.connectors[0]!.clientId;
    c.session.idelTimeout = 60;
    c.baseURL = 'https://app.example.com';
    c.connectors[0]!.claims = { roles: { form: 'roles' } };
    c.colour = 'blue';
    expect(lines(configError(c))).toEqual(
      expect.arrayContaining([
        'connectors[0].clientID: unknown key; did you mean clientId?',
        'connectors[0].clientId: required',
        'session.idelTimeout: unknown key; did you mean idleTimeout?',
        'baseURL: unknown key; did you mean baseUrl?',
        'connectors[0].claims.roles.form: unknown key; did you mean from?',
        'colour: unknown key',
      ]),
    );
  });

  test('vendor keys are suggested for their own type', () => {
    const c = valid();
    c.connectors = [{ id: 'kc', type: 'keycloak', url: 'https://sso.example.com', relam: 'main', clientId: 'app' }];
    expect(lines(configError(c))).toEqual(['connectors[0].realm: required', 'connectors[0].relam: unknown key; did you mean realm?']);
  });
});

describe('URL values', () => {
  test.each<[string, string, string]>([
    ['a query string', 'https://idp.example.com/?tenant=a', 'must not contain a query string'],
    ['a fragment', 'https://idp.example.com/#x', 'must not contain a fragment'],
    ['credentials', 'https://user:pass@idp.example.com', 'must not contain credentials (user:password@)'],
    ['leading whitespace', ' https://idp.example.com', 'must not have surrounding whitespace'],
    ['trailing whitespace', 'https://idp.example.com\n', 'must not have surrounding whitespace'],
  ])('an issuer with %s is refused', (_name, issuer, message) => {
    const c = valid();
    c.connectors[0]!.issuer = issuer;
    expect(lines(configError(c))).toEqual([`connectors[0].issuer: ${message}`]);
  });

  test('baseUrl, tokens.issuer, postLogoutRedirectUri and vendor endpoints get the same checks', () => {
    const c = valid();
    c.baseUrl = 'https://user:pw@app.example.com';
    c.tokens.issuer = 'https://app.example.com/auth?x=1';
    c.connectors[0]!.postLogoutRedirectUri = 'https://app.example.com/bye#top';
    c.connectors.push({ id: 'gh', type: 'github', clientId: 'gh', clientSecret: CLIENT_SECRET, tokenUrl: ' https://gh.example.com/login/oauth/access_token' });
    c.connectors.push({ id: 'kc', type: 'keycloak', clientId: 'kc', url: 'https://sso.example.com?x', realm: 'main' });
    const err = configError(c);
    expect(lines(err)).toEqual([
      'baseUrl: must not contain credentials (user:password@)',
      'tokens.issuer: must not contain a query string',
      'connectors[0].postLogoutRedirectUri: must not contain a fragment',
      'connectors[1].tokenUrl: must not have surrounding whitespace',
      'connectors[2].url: must not contain a query string',
    ]);
    expect(err.message).not.toContain('pw@');
  });

  test('with NODE_ENV=production an http postLogoutRedirectUri is refused when baseUrl is https', () => {
    const c = valid();
    c.connectors[0]!.postLogoutRedirectUri = 'http://app.example.com/bye';
    expect(lines(configError(c, { nodeEnv: 'production' }))).toEqual([
      'connectors[0].postLogoutRedirectUri: an http redirect target is refused with NODE_ENV=production and an https baseUrl',
    ]);
    expect(load(c, 'development').connectors[0]!.postLogoutRedirectUri).toBe('http://app.example.com/bye');
  });
});

describe('OIDC scopes', () => {
  test("an OIDC-based connector's scopes must include openid; GitHub needs none", () => {
    const c = valid();
    c.connectors[0]!.scopes = ['profile', 'email'];
    c.connectors.push({ id: 'okta', type: 'okta', domain: 'acme.okta.com', clientId: 'o', clientSecret: CLIENT_SECRET, scopes: ['email'] });
    c.connectors.push({ id: 'gh', type: 'github', clientId: 'gh', clientSecret: CLIENT_SECRET, scopes: ['read:user'] });
    expect(lines(configError(c))).toEqual([
      'connectors[0].scopes: must include "openid" (OpenID Connect Core §3.1.2.1)',
      'connectors[1].scopes: must include "openid" (OpenID Connect Core §3.1.2.1)',
    ]);
  });
});

describe('claim-mapping targets', () => {
  test('__proto__, constructor and prototype are refused as local claim names', () => {
    const c = valid();
    c.connectors[0]!.claims = JSON.parse('{"constructor": "email", "prototype": {"from": "name"}, "__proto__": "sub"}') as Json;
    expect(lines(configError(c))).toEqual([
      'connectors[0].claims.__proto__: is not an allowed key',
      'connectors[0].claims.constructor: is not an allowed claim name',
      'connectors[0].claims.prototype: is not an allowed claim name',
    ]);
  });

  test('a standard claim cannot be given another type than OpenID Connect Core §5.1 defines', () => {
    const c = valid();
    c.connectors[0]!.claims = {
      email: { from: 'emails', type: 'string[]' },
      email_verified: { from: 'ev', type: 'string' },
      emails: { from: 'emails', type: 'string[]' },
    };
    expect(lines(configError(c))).toEqual([
      'connectors[0].claims.email.type: must be "string": OpenID Connect Core §5.1 defines email as a string',
      'connectors[0].claims.email_verified.type: must be "boolean": OpenID Connect Core §5.1 defines email_verified as a boolean',
    ]);
  });
});

describe('signing keys are checked when fedgate() is called', () => {
  test('a missing key file throws the ConfigError at once', () => {
    const dir = tempDir();
    const c = valid();
    c.tokens.keys = './absent-jwks.json';
    writeFileSync(path.join(dir, 'gateway.json'), JSON.stringify(c));
    const err = configError(path.join(dir, 'gateway.json'));
    expect(lines(err)).toEqual([`tokens.keys: cannot read "${path.join(dir, 'absent-jwks.json')}" as a JSON JWKS file (it does not exist)`]);
  });

  test('a public-only key file and a duplicate kid throw the ConfigError at once, naming the members', () => {
    const dir = tempDir();
    const { d: _d, ...publicOnly } = jwk;
    void _d;
    writeFileSync(path.join(dir, 'public.json'), JSON.stringify({ keys: [publicOnly] }));
    const c = valid();
    c.tokens.keys = './public.json';
    writeFileSync(path.join(dir, 'gateway.json'), JSON.stringify(c));
    expect(lines(configError(path.join(dir, 'gateway.json')))).toEqual([
      'tokens.keys.keys[0].d: required: this is a public key, tokens.keys needs private keys (the public part is published automatically)',
    ]);

    const inline = valid();
    inline.tokens.keys = { keys: [structuredClone(jwk), { ...structuredClone(jwk2), kid: jwk.kid }] };
    expect(lines(configError(inline))).toEqual(['tokens.keys.keys[1].kid: duplicate: keys[0] has the same kid']);
  });

  test('a key file that is not JSON, or whose public part does not match the private key, is refused', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'broken.json'), '{"keys": [');
    const c = valid();
    c.tokens.keys = path.join(dir, 'broken.json');
    expect(lines(configError(c))).toEqual([`tokens.keys: "${path.join(dir, 'broken.json')}" is not valid JSON: unexpected end of file at line 1, column 11`]);

    writeFileSync(path.join(dir, 'latin1.json'), Buffer.from(JSON.stringify({ keys: [{ ...jwk, kid: 'cl\u00e9' }] }), 'latin1'));
    c.tokens.keys = path.join(dir, 'latin1.json');
    expect(lines(configError(c))).toEqual([
      `tokens.keys: "${path.join(dir, 'latin1.json')}" is not valid UTF-8 (Latin-1 or another encoding?); save it as UTF-8`,
    ]);

    const dup = JSON.stringify({ keys: [jwk] }).replace('"kid":', '"kid":"first","kid":');
    writeFileSync(path.join(dir, 'dup.json'), dup);
    c.tokens.keys = path.join(dir, 'dup.json');
    expect(lines(configError(c))).toEqual([
      `tokens.keys.keys[0].kid: duplicate key in dup.json (line 1, column ${dup.lastIndexOf('"kid"') + 1}): JSON would silently keep only the last one`,
    ]);

    const mixed = valid();
    mixed.tokens.keys = { keys: [{ ...structuredClone(jwk), x: jwk2.x, y: jwk2.y }] };
    expect(lines(configError(mixed))).toEqual(['tokens.keys.keys[0]: its public members do not belong to its private key']);
  });

  test('a valid key file loads and the gateway builds', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const c = valid();
    c.session = { secret: SESSION_SECRET, insecureMemoryStore: true };
    c.tokens.keys = './jwks.json';
    writeFileSync(path.join(dir, 'gateway.json'), JSON.stringify(c));
    const gateway = fedgate(path.join(dir, 'gateway.json'), { env: {}, nodeEnv: 'test', logger: quiet });
    await gateway.close();
  });
});

describe('broker client URIs', () => {
  test('surrounding whitespace is refused; a query stays allowed (RFC 6749 §3.1.2)', () => {
    const c = valid();
    c.op = {
      enabled: true,
      clients: [
        {
          client_id: 'web',
          client_secret: CLIENT_SECRET,
          redirect_uris: ['https://web.example.com/cb ', 'https://web.example.com/cb?tenant=a'],
          post_logout_redirect_uris: ['\thttps://web.example.com/'],
        },
      ],
    };
    expect(lines(configError(c))).toEqual([
      'op.clients[0].redirect_uris[0]: must not have surrounding whitespace',
      'op.clients[0].post_logout_redirect_uris[0]: must not have surrounding whitespace',
    ]);
  });
});

describe('keys of another connector type', () => {
  test('name the types they belong to instead of guessing a typo', () => {
    const c = valid();
    c.connectors[0]!.domain = 'acme.okta.com';
    c.connectors[0]!.realm = 'main';
    expect(lines(configError(c))).toEqual([
      'connectors[0].domain: unknown key for this type (a key of auth0, okta, cognito, entrust)',
      'connectors[0].realm: unknown key for this type (a key of keycloak)',
    ]);
  });
});

describe('an entry with a wrong key still gets its cross-entry checks', () => {
  test('duplicate id and claim-mapping problems are reported beside the schema problem', () => {
    const c = valid();
    c.connectors.push({ id: 'corp', type: 'oidcx', clientId: 'b', claims: { iss: 'x', constructor: 'y' } });
    c.connectors.push({ id: 'corp', type: 'oidc', issuer: 'https://idp3.example.com', clientId: 'c', name: '' });
    expect(lines(configError(c))).toEqual([
      'connectors[1].type: must be one of oidc, auth0, okta, cognito, keycloak, entrust, azure-ad, azure-b2c, github, saml; did you mean oidc?',
      'connectors[2].name: Too small: expected string to have >=1 characters',
      'connectors[1].id: duplicate connector id "corp"',
      'connectors[1].claims.iss: reserved JWT claim cannot be mapped',
      'connectors[1].claims.constructor: is not an allowed claim name',
      'connectors[2].id: duplicate connector id "corp"',
    ]);
  });
});

describe('docs/configuration.md', () => {
  test('the claim-mapping example loads', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Claim mapping'));
    const start = section.indexOf('```json') + '```json'.length;
    const example = JSON.parse(section.slice(start, section.indexOf('```', start))) as { claims: Json };
    const c = valid();
    c.connectors[0]!.claims = example.claims;
    expect(load(c).connectors[0]!.claims).toEqual(example.claims);
  });
});
