import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, fedgate, type ConfigInput } from '../../../index.js';
import { builtinConnectors } from '../../../connectors/registry.js';
import { loadConfig } from '../../../lib/config/load.js';
import { generatePrivateJwk } from '../../../lib/tokens/keys.js';

const SESSION_SECRET = 'cfg-test-session-secret-0123456789-abcdefghij';
const CLIENT_SECRET = 'cfg-test-client-secret-PLANTED-9f8e7d6c5b4a';

let jwks: { keys: Record<string, unknown>[] };
const dirs: string[] = [];
beforeAll(async () => {
  jwks = { keys: [(await generatePrivateJwk('ES256')) as unknown as Record<string, unknown>] };
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fedgate-config-'));
  dirs.push(dir);
  return dir;
}

type Json = Record<string, unknown>;
function valid(): Json & { session: Json; connectors: Json[] } {
  return {
    baseUrl: 'https://app.example.com',
    session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1/0' } },
    tokens: { keys: structuredClone(jwks) },
    connectors: [{ id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'app', clientSecret: CLIENT_SECRET }],
  };
}

const load = (input: string | object, opts: { env?: Record<string, string>; nodeEnv?: string; cwd?: string } = {}) =>
  loadConfig(input, {
    registry: builtinConnectors,
    env: opts.env ?? {},
    ...(opts.nodeEnv ? { nodeEnv: opts.nodeEnv } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });

/** The ConfigError thrown by `fedgate(config)` (which validates before it opens anything). */
function configError(config: object | string, opts: { env?: Record<string, string>; nodeEnv?: string } = {}): ConfigError {
  try {
    fedgate(config as ConfigInput, { env: opts.env ?? {}, nodeEnv: opts.nodeEnv ?? 'test' });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const lines = (err: ConfigError) => err.problems.map((p) => `${p.path}: ${p.message}`);

describe('configuration errors', () => {
  test('the valid base config loads (the cases below each break it)', () => {
    const config = load(valid());
    expect(config.baseUrl).toBe('https://app.example.com');
    expect(config.session.cookieName).toBe('__Host-fedgate');
    expect(Object.isFrozen(config.session)).toBe(true);
  });

  test('several schema problems are reported at once, each with its path', () => {
    const c = valid();
    c.baseUrl = 'not a url';
    c.bogus = true;
    c.session.secret = 'short';
    c.session.idelTimeout = 5;
    c.connectors.push({ id: 'second', type: 'oidc', issuer: 'https://idp2.example.com' });
    const err = configError(c);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.status).toBe(500);
    expect(lines(err)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^baseUrl: /) as unknown,
        'bogus: unknown key',
        'session.idelTimeout: unknown key; did you mean idleTimeout?',
        'session.secret: must be at least 32 characters',
        'connectors[1].clientId: required',
      ]),
    );
    expect(err.message.startsWith('Invalid fedgate configuration:\n')).toBe(true);
    for (const line of lines(err)) expect(err.message).toContain(line);
  });

  test('a weak secret (few distinct characters) is refused', () => {
    const c = valid();
    c.session.secret = 'ab'.repeat(20);
    expect(lines(configError(c))).toEqual(['session.secret: is too weak (too few distinct characters)']);
  });

  test('secret values are never echoed, wherever they are wrong', () => {
    const planted = 'PLANTED-Secret-Value-0451';
    const c = valid();
    c.session.secret = planted;
    c.session.redis = { url: `http://:${planted}@redis.example.com` };
    c.connectors[0]!.clientSecret = `${planted}${'x'.repeat(5000)}`;
    c.connectors[0]!.clientAuthMethod = planted;
    const err = configError(c);
    expect(err.problems.length).toBeGreaterThanOrEqual(3);
    for (const text of [err.message, JSON.stringify(err.problems), String(err.stack)]) expect(text).not.toContain(planted);
  });

  test('a missing ${env:NAME} names the variable and the path, never another value', () => {
    const c = valid();
    c.connectors[0]!.clientSecret = '${env:CORP_CLIENT_SECRET}';
    c.session.secret = '${env:SESSION_SECRET}';
    const err = configError(c, { env: { SESSION_SECRET } });
    expect(lines(err)).toContain('connectors[0].clientSecret: environment variable CORP_CLIENT_SECRET is not set');
    expect(err.message).not.toContain(SESSION_SECRET);
    // With the variable set, the value is substituted.
    const ok = load(c, { env: { SESSION_SECRET, CORP_CLIENT_SECRET: CLIENT_SECRET } });
    expect(ok.connectors[0]!.clientSecret).toBe(CLIENT_SECRET);
    expect(ok.session.secrets).toEqual([SESSION_SECRET]);
  });

  test('cross-field problems are reported at once: duplicate ids, reserved claims, HS256 without secret, http issuer', () => {
    const c = valid();
    const base = c.connectors[0]!;
    c.connectors = [
      { ...base, claims: { iss: 'email', aud: { value: 'x' }, email: 'email' } },
      { ...base, clientId: 'other' },
      { id: 'public', type: 'oidc', issuer: 'http://idp.example.com', clientId: 'spa', clientAuthMethod: 'none', idTokenSigningAlg: 'HS256' },
    ];
    const err = configError(c);
    expect(lines(err)).toEqual(
      expect.arrayContaining([
        'connectors[0].claims.iss: reserved JWT claim cannot be mapped',
        'connectors[0].claims.aud: reserved JWT claim cannot be mapped',
        'connectors[1].id: duplicate connector id "corp"',
        'connectors[2].idTokenSigningAlg: HS256 needs a clientSecret (public clients cannot use HMAC)',
        'connectors[2].issuer: must be https (http needs allowInsecureRequests, development only)',
      ]),
    );
    expect(lines(err).some((l) => l.startsWith('connectors[0].claims.email'))).toBe(false);
  });

  test('an http issuer is accepted with allowInsecureRequests outside production', () => {
    const c = valid();
    c.allowInsecureRequests = true;
    c.connectors[0]!.issuer = 'http://127.0.0.1:9999';
    expect(load(c).connectors[0]!.issuer).toBe('http://127.0.0.1:9999');
  });

  test('development flags are refused with NODE_ENV=production, each by path', () => {
    const c = valid();
    c.allowInsecureRequests = true;
    c.session = { secret: SESSION_SECRET, insecureMemoryStore: true };
    c.tokens = { insecureEphemeralKeys: true };
    const err = configError(c, { nodeEnv: 'production' });
    expect(lines(err)).toEqual(
      expect.arrayContaining([
        'allowInsecureRequests: development-only option refused with NODE_ENV=production',
        'session.insecureMemoryStore: development-only option refused with NODE_ENV=production',
        'tokens.insecureEphemeralKeys: development-only option refused with NODE_ENV=production',
      ]),
    );
    // The same flags load outside production.
    expect(load(c, { nodeEnv: 'development' }).session.store).toEqual({ kind: 'memory' });
  });

  test('missing essentials: Redis (or the dev store), signing keys (or dev keys), connectors', () => {
    const err = configError({ baseUrl: 'https://app.example.com', session: { secret: SESSION_SECRET }, connectors: [] });
    // All three in one error: schema problems and cross-field problems are reported together.
    expect(lines(err)).toEqual([
      'connectors: at least one connector is required',
      'session.redis: required (or session.insecureMemoryStore for development)',
      'tokens.keys: required (or tokens.insecureEphemeralKeys for development)',
    ]);
    const c = valid();
    c.session = { secret: SESSION_SECRET };
    delete c.tokens;
    expect(lines(configError(c))).toEqual(
      expect.arrayContaining([
        'session.redis: required (or session.insecureMemoryStore for development)',
        'tokens.keys: required (or tokens.insecureEphemeralKeys for development)',
      ]),
    );
  });

  test('a config that is not an object is refused', () => {
    expect(lines(configError([] as unknown as object))).toEqual(['(root): must be a JSON object']);
  });
});

describe('configuration files', () => {
  test("relative tokens.keys resolves against the config file's folder, not the working directory", async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'keys'));
    writeFileSync(path.join(dir, 'keys', 'jwks.json'), JSON.stringify(jwks));
    const file = path.join(dir, 'gateway.json');
    const c = valid();
    c.session = { secret: SESSION_SECRET, insecureMemoryStore: true };
    c.tokens = { keys: './keys/jwks.json' };
    // A closed local port: health() below may try discovery, and tests never touch the internet.
    c.allowInsecureRequests = true;
    c.connectors[0]!.issuer = 'http://127.0.0.1:9';
    writeFileSync(file, JSON.stringify(c));

    const elsewhere = tempDir();
    // Key files are read when the config loads: a copy in the working directory for the object case.
    mkdirSync(path.join(elsewhere, 'keys'));
    writeFileSync(path.join(elsewhere, 'keys', 'jwks.json'), JSON.stringify(jwks));
    const config = load(file, { cwd: elsewhere, nodeEnv: 'test' });
    expect(config.tokens.keys).toBe(path.join(dir, 'keys', 'jwks.json'));
    expect(config.baseDir).toBe(dir);
    // A config object resolves against the working directory instead.
    expect(load({ ...c }, { cwd: elsewhere, nodeEnv: 'test' }).tokens.keys).toBe(path.join(elsewhere, 'keys', 'jwks.json'));

    // The gateway really reads the key file from there.
    const gateway = fedgate(file, { nodeEnv: 'test', env: {}, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    try {
      expect((await gateway.health()).keys).toBe('loaded');
    } finally {
      await gateway.close();
    }
  });

  test('malformed JSON is CONFIG_FILE_UNREADABLE, naming the file and not its content', () => {
    const dir = tempDir();
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, `{ "session": { "secret": "${CLIENT_SECRET}" }, `);
    const err = configError(file);
    expect(err.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(lines(err)).toEqual(['(file): broken.json is not valid JSON: unexpected end of file at line 1, column 75']);
    expect(err.message).not.toContain(CLIENT_SECRET);
  });

  test('a missing file is CONFIG_FILE_UNREADABLE', () => {
    const err = configError(path.join(tempDir(), 'nope.json'));
    expect(err.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(lines(err)).toEqual(['(file): nope.json cannot be read']);
  });

  test('a file config gets the same validation as an object, with ${env:} substitution', () => {
    const dir = tempDir();
    const file = path.join(dir, 'gateway.json');
    const c = valid();
    c.connectors[0]!.clientSecret = '${env:CORP_SECRET}';
    delete c.connectors[0]!.clientId;
    writeFileSync(file, JSON.stringify(c));
    const err = configError(file);
    expect(lines(err)).toEqual(
      expect.arrayContaining(['connectors[0].clientSecret: environment variable CORP_SECRET is not set', 'connectors[0].clientId: required']),
    );
  });
});

describe('every problem in one error', () => {
  test('schema problems and cross-field problems (duplicate ids, production dev flags, HS256 without a secret) come together', () => {
    const cfg = valid();
    cfg.baseUrl = 'not a url';
    (cfg.session as Json).idleTimeout = -5;
    (cfg.tokens as Json | undefined) ?? Object.assign(cfg, { tokens: {} });
    Object.assign(cfg, { allowInsecureRequests: true });
    const first = cfg.connectors[0]!;
    cfg.connectors.push({ ...first, idTokenSigningAlg: 'HS256', clientSecret: undefined });
    let err: unknown;
    try {
      load(cfg, { nodeEnv: 'production' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^baseUrl: /),
        expect.stringMatching(/^session\.idleTimeout: /),
        'allowInsecureRequests: development-only option refused with NODE_ENV=production',
        'connectors[1].id: duplicate connector id "corp"',
        'connectors[1].idTokenSigningAlg: HS256 needs a clientSecret (public clients cannot use HMAC)',
      ]),
    );
    expect((err as ConfigError).message).not.toContain(CLIENT_SECRET);
  });
});
