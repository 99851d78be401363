import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { schemaFile } from '../../scripts/write-schema.js';
import { loadConfig } from '../../lib/config/load.js';
import { resolveBrokerSettings } from '../../lib/broker/config.js';
import { builtinConnectors } from '../../connectors/registry.js';
import { allCodeBlocks, asWholeConfig, jsonKind, jsonValues, root, snippetEnv, snippetCwd, removeSnippetCwd } from '../docs/markdown.js';

afterAll(removeSnippetCwd);

// The published schema/config.schema.json checked with a standard validator (ajv), the way an
// editor or `npx ajv-cli validate -s schema/config.schema.json -d gateway.json` uses it.

const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
// ajv-formats is a CJS module: its function arrives as the default export or wrapped in it.
type AddFormats = (ajv: Ajv) => Ajv;
const formatsExport = addFormatsModule as unknown as AddFormats | { default: AddFormats };
const addFormats: AddFormats = typeof formatsExport === 'function' ? formatsExport : formatsExport.default;

// allErrors: every error, as editors show them (the count is what a user has to read).
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
// ajv adds a summary error for a failing if/then or anyOf ("must match "then" schema") next to
// the specific one; counted are the specific errors, the ones an editor underlines.
const summaries = new Set(['if', 'anyOf', 'oneOf']);
const errorsOf = (config: unknown): ErrorObject[] => (validate(config) ? [] : (validate.errors ?? []).filter((e) => !summaries.has(e.keyword)));
const show = (errors: ErrorObject[]) => errors.map((e) => `${e.instancePath} ${e.message ?? ''}`).join('\n');

const exampleConfigs = ['example-app/gateway.json', 'example-app/gateway.multi.json'];

interface TestConfig extends Record<string, unknown> {
  baseUrl: string;
  session: { secret: unknown; redis: Record<string, unknown> };
  tokens: Record<string, unknown>;
  connectors: Record<string, unknown>[];
}

const minimal = (): TestConfig => ({
  baseUrl: 'https://app.example.com',
  session: { secret: '${env:FEDGATE_SESSION_SECRET}', redis: { url: 'redis://127.0.0.1:6379/0' } },
  tokens: { keys: './keys/jwks.json' },
  connectors: [{ id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'app', clientSecret: '${env:CORP_CLIENT_SECRET}' }],
});

test('standard validators load it as published: draft-07, ajv strict mode, no formats package, no flags', () => {
  expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  // What ajv-cli does without options: the default Ajv class (draft-07), strict, no ajv-formats.
  expect(() => new Ajv().compile(schema)).not.toThrow();
  // With ajv-formats added (as tools that know formats do), it compiles too.
  expect(() => addFormats(new Ajv()).compile(schema)).not.toThrow();
});

test.each(exampleConfigs)('the example config %s is valid', (file) => {
  const config = JSON.parse(readFileSync(path.join(root, file), 'utf8')) as unknown;
  expect(show(errorsOf(config))).toBe('');
});

const snippetConfigs = allCodeBlocks()
  .filter((b) => b.lang === 'json' && !b.notRunnable)
  .flatMap((b) =>
    jsonValues(b)
      .filter((v) => !['log-line', 'other'].includes(jsonKind(v)))
      .map((v, i) => [`${b.where}#${i + 1}`, v] as const),
  );

test('there are config snippets in the README and docs to check', () => {
  expect(snippetConfigs.length).toBeGreaterThan(10);
});

test.each(snippetConfigs)('the config snippet %s (as a whole config) is valid', (_where, value) => {
  expect(show(errorsOf(asWholeConfig(value)))).toBe('');
});

describe('${env:NAME} is accepted wherever the loader substitutes it', () => {
  test('a secret given as a placeholder (minLength 32 applies to the value, not the placeholder)', () => {
    expect(errorsOf(minimal())).toEqual([]);
    const rotated = minimal();
    rotated.session.secret = ['${env:NEW_SECRET}', '${env:OLD_SECRET}'];
    expect(errorsOf(rotated)).toEqual([]);
  });

  test('URLs, patterns and enums given as placeholders, whole or in part', () => {
    const c = minimal();
    c.baseUrl = '${env:BASE_URL}';
    c.session.redis.url = '${env:REDIS_URL}';
    Object.assign(c.connectors[0]!, { issuer: 'https://${env:IDP_HOST}/realms/acme', logout: '${env:LOGOUT_MODE}', id: '${env:CONNECTOR_ID}' });
    expect(show(errorsOf(c))).toBe('');
  });

  test('but a short literal secret is still refused, and a number field takes no placeholder (the loader substitutes strings only)', () => {
    const weak = minimal();
    weak.session.secret = 'too-short';
    expect(errorsOf(weak).some((e) => e.instancePath === '/session/secret')).toBe(true);
    expect(errorsOf(weak).every((e) => e.instancePath.startsWith('/session/secret'))).toBe(true);
    const c = minimal();
    c.httpTimeout = '${env:TIMEOUT}';
    expect(errorsOf(c).map((e) => [e.instancePath, e.keyword])).toEqual([['/httpTimeout', 'type']]);
  });
});

describe('a connector entry is checked against the schema of its type only', () => {
  test('a misspelt optional key gives exactly one error, at that key', () => {
    const c = minimal();
    Object.assign(c.connectors[0]!, { clientSecet: 'x' });
    expect(errorsOf(c).map((e) => [e.instancePath, e.keyword, e.params])).toEqual([
      ['/connectors/0', 'additionalProperties', { additionalProperty: 'clientSecet' }],
    ]);
  });

  test('a misspelt required key gives the two errors it is: unknown key, missing key', () => {
    const c = minimal();
    const { clientId, ...rest } = c.connectors[0]!;
    c.connectors[0] = { ...rest, clientID: clientId };
    expect(
      errorsOf(c)
        .map((e) => [e.instancePath, e.keyword])
        .sort(),
    ).toEqual([
      ['/connectors/0', 'additionalProperties'],
      ['/connectors/0', 'required'],
    ]);
  });

  test('a vendor key on its vendor type is fine, on another type one error', () => {
    const c = minimal();
    c.connectors[0] = { id: 'auth0', type: 'auth0', domain: 'dev-abc.eu.auth0.com', clientId: 'x', claimNamespace: 'https://example.com' };
    expect(errorsOf(c)).toEqual([]);
    c.connectors[0] = { id: 'okta', type: 'okta', domain: 'acme.okta.com', clientId: 'x', claimNamespace: 'https://example.com' };
    expect(errorsOf(c).map((e) => [e.instancePath, e.keyword])).toEqual([['/connectors/0', 'additionalProperties']]);
  });

  test('an unknown type gives one error listing the types', () => {
    const c = minimal();
    Object.assign(c.connectors[0]!, { type: 'oidcc' });
    const errors = errorsOf(c);
    expect(errors.map((e) => [e.instancePath, e.keyword])).toEqual([['/connectors/0/type', 'enum']]);
    expect((errors[0]!.params as { allowedValues: string[] }).allowedValues.sort()).toEqual([...builtinConnectors.keys()].sort());
  });

  test('a wrong value gives errors at that value only', () => {
    const c = minimal();
    Object.assign(c.connectors[0]!, { logout: 'upstrem' });
    const errors = errorsOf(c);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.instancePath === '/connectors/0/logout')).toBe(true);
  });

  test('the schema and the loader agree on these cases', () => {
    const ok = minimal();
    expect(() => loadConfig(ok, { registry: builtinConnectors, env: snippetEnv, cwd: snippetCwd() })).not.toThrow();
    const bad = minimal();
    Object.assign(bad.connectors[0]!, { clientSecet: 'x' });
    expect(() => loadConfig(bad, { registry: builtinConnectors, env: snippetEnv, cwd: snippetCwd() })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        problems: [{ path: 'connectors[0].clientSecet', message: expect.stringMatching(/^unknown key/) }],
      }),
    );
  });
});

test('the Redis forms (url, Sentinel, Cluster) are told apart by their key: a typo in one gives one error', () => {
  const c = minimal();
  c.session.redis = { url: 'redis://127.0.0.1:6379', prefx: 'app:' };
  expect(errorsOf(c).map((e) => [e.instancePath, e.keyword, e.params])).toEqual([['/session/redis', 'additionalProperties', { additionalProperty: 'prefx' }]]);
  c.session.redis = { sentinels: [{ host: 'a', port: 26379 }], name: 'mymaster', db: 1 };
  expect(errorsOf(c)).toEqual([]);
  c.session.redis = { host: 'a' };
  expect(errorsOf(c).map((e) => [e.instancePath, e.keyword])).toEqual([['/session/redis', 'required']]);
});

test("the defaults it declares are the loader's", () => {
  // Every default is a zod default (test/lib/config/defaults.test.ts checks the loader's against
  // this schema); the broker's are applied by lib/broker from the parsed block.
  const resolved = loadConfig({ ...minimal(), op: { enabled: true, clients: [] } }, { registry: builtinConnectors, env: snippetEnv, cwd: snippetCwd() });
  const broker = resolveBrokerSettings(resolved.op!, { accessTokenTtl: 300, idTokenTtl: 300, transactionTtl: 600, absoluteTimeout: 43200 });
  const actual: Record<string, unknown> = {
    'op.ttl.authorizationCode': broker.ttl.authorizationCode,
    'op.ttl.refreshToken': broker.ttl.refreshToken,
    'op.ttl.grant': broker.ttl.grant,
    'op.sessionCheckInterval': broker.sessionCheckInterval,
  };
  const op = (schema as { properties: { op: { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }> } } })
    .properties.op.properties;
  const declared = (key: string) => {
    const [, first, second] = key.split('.') as [string, string, string | undefined];
    return second === undefined ? op[first]?.default : op[first]?.properties?.[second]?.default;
  };
  for (const [key, value] of Object.entries(actual)) expect([key, declared(key)]).toEqual([key, value]);
  // And they reach the published schema (hover text in editors).
  const text = JSON.stringify(schema);
  expect(text).toContain('"default":1800');
  expect(text).toContain('"default":"fedgate:"');
  const connectorTypes = (
    schema as { properties: { connectors: { items: { allOf: Array<{ then: { properties: Record<string, { default?: unknown }> } }> } } } }
  ).properties.connectors.items.allOf;
  for (const { then } of connectorTypes) expect(then.properties.logout?.default).toBe('local');
});
