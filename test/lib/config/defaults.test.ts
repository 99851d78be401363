import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { builtinConnectors } from '../../../connectors/registry.js';
import { connectorBaseSchema } from '../../../lib/config/connector-base.js';
import { loadConfig, type LoadConfigOptions } from '../../../lib/config/load.js';
import type { ConnectorType } from '../../../lib/connector.js';
import { renderConfigSchema } from '../../../scripts/write-schema.js';
import { buildConfigSchema } from '../../../lib/config/schema.js';

// Configuration defaults are written once, next to their schema entry (lib/config/schema.ts,
// lib/config/connector-base.ts): the loader applies them, the JSON Schema and docs/configuration.md
// show the same values. Cross-field checks read what the schema parsed, and a connector type's
// validate() that throws is never taken for "no problem".

const SESSION_SECRET = 'defaults-test-session-secret-0123456789-abcdefg';

type Json = Record<string, unknown>;
function devConfig(connector: Json = { id: 'corp', type: 'oidc', issuer: 'https://idp.example.com', clientId: 'app' }): Json & { session: Json } {
  return {
    baseUrl: 'https://app.example.com',
    session: { secret: SESSION_SECRET, insecureMemoryStore: true },
    tokens: { insecureEphemeralKeys: true },
    connectors: [connector],
  };
}

/** A connector type as an app would register it through `connectorTypes`. */
function customType(validate: ConnectorType['validate']): ConnectorType {
  return {
    type: 'custom',
    schema: connectorBaseSchema.extend({ type: z.literal('custom') }),
    ...(validate ? { validate } : {}),
    create: () => {
      throw new Error('not needed here');
    },
  };
}

const load = (input: object, options: Partial<LoadConfigOptions> = {}) =>
  loadConfig(input, { registry: builtinConnectors, env: {}, nodeEnv: 'test', ...options });

describe("connector types' validate()", () => {
  test('a validate() that throws surfaces: the config is not accepted', () => {
    const registry = new Map([
      ...builtinConnectors,
      [
        'custom',
        customType(() => {
          throw new TypeError('bug in a custom connector type');
        }),
      ],
    ]);
    expect(() => load(devConfig({ id: 'mine', type: 'custom', clientId: 'app' }), { registry })).toThrow('bug in a custom connector type');
  });

  test('validate() gets the entry as the schema parsed it (defaults applied), never the raw input', () => {
    const seen: unknown[] = [];
    const registry = new Map([
      ...builtinConnectors,
      [
        'custom',
        customType((config) => {
          seen.push(config);
          return [];
        }),
      ],
    ]);
    load(devConfig({ id: 'mine', type: 'custom', clientId: 'app' }), { registry });
    expect(seen).toEqual([
      expect.objectContaining({ id: 'mine', logout: 'local', refresh: true, exposeUpstreamTokens: false, domains: [], authorizationParams: {} }),
    ]);
  });

  test('an entry that failed its schema is not handed to validate()', () => {
    let calls = 0;
    const registry = new Map([
      ...builtinConnectors,
      [
        'custom',
        customType(() => {
          calls += 1;
          return [];
        }),
      ],
    ]);
    expect(() => load(devConfig({ id: 'mine', type: 'custom', clientId: 'app', logout: 'sometimes' }), { registry })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(calls).toBe(0);
  });
});

describe('the session store is one of three kinds', () => {
  test('redis: the configured Redis, its defaults applied', () => {
    const c = devConfig();
    c.session = { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1/0' } };
    const { session } = load(c);
    expect(session.store).toEqual({ kind: 'redis', redis: { url: 'redis://127.0.0.1:1/0', prefix: 'fedgate:', commandTimeout: 2000, connectTimeout: 2000 } });
    expect(session.prefix).toBe('fedgate:');
  });

  test('memory: session.insecureMemoryStore (development only)', () => {
    expect(load(devConfig()).session.store).toEqual({ kind: 'memory' });
  });

  test("external: the app's own client (options.redis); session.redis may still lend its prefix", () => {
    const c = devConfig();
    c.session = { secret: SESSION_SECRET };
    expect(load(c, { externalRedis: true }).session).toEqual(
      expect.objectContaining({ store: { kind: 'external', connectTimeout: 2000 }, prefix: 'fedgate:' }),
    );
    c.session = { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1/0', prefix: 'app:', connectTimeout: 500 } };
    expect(load(c, { externalRedis: true }).session).toEqual(expect.objectContaining({ store: { kind: 'external', connectTimeout: 500 }, prefix: 'app:' }));
  });
});

/** The subschema of `node` for key `step`, through anyOf branches and if/then selections (the first that has it). */
function propertyOf(node: Json | undefined, step: string): Json | undefined {
  if (!node) return undefined;
  const own = (node.properties as Record<string, Json> | undefined)?.[step];
  if (own) return own;
  for (const branch of [...((node.anyOf as Json[] | undefined) ?? []), ...((node.allOf as Json[] | undefined) ?? [])]) {
    const found = propertyOf((branch.then as Json | undefined) ?? branch, step);
    if (found) return found;
  }
  return undefined;
}

/** The JSON Schema `default` at a dotted path (`connectors[].logout`: the first connector type that has the key). */
function schemaDefault(schema: Json, dotted: string): unknown {
  let node: Json | undefined = schema;
  for (const step of dotted.split('.')) {
    node = step.endsWith('[]') ? (propertyOf(node, step.slice(0, -2))?.items as Json | undefined) : propertyOf(node, step);
  }
  return node?.default;
}

/** A documented value: JSON when it parses (`1800`, `{}`, `false`), else the text (`/auth`, `RS256`). */
function documented(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

describe('one source for every default', () => {
  const schema = JSON.parse(renderConfigSchema(buildConfigSchema, builtinConnectors)) as Json;

  test('the loader applies the defaults the JSON Schema declares', () => {
    const c = devConfig();
    c.session = { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:1/0' } };
    const r = load(c);
    const applied: Record<string, unknown> = {
      basePath: r.basePath,
      allowInsecureRequests: r.allowInsecureRequests,
      hsts: r.hsts,
      httpTimeout: r.httpTimeout,
      'session.redis.prefix': r.session.prefix,
      'session.redis.commandTimeout': r.session.store.kind === 'redis' ? r.session.store.redis.commandTimeout : undefined,
      'session.redis.connectTimeout': r.session.store.kind === 'redis' ? r.session.store.redis.connectTimeout : undefined,
      'session.idleTimeout': r.session.idleTimeout,
      'session.absoluteTimeout': r.session.absoluteTimeout,
      'session.transactionTtl': r.session.transactionTtl,
      'session.cacheTtl': r.session.cacheTtl,
      'tokens.accessTokenTtl': r.tokens.accessTokenTtl,
      'tokens.idTokenTtl': r.tokens.idTokenTtl,
      'tokens.scopes': r.tokens.scopes,
      'tokens.sessionBound': r.tokens.sessionBound,
      'connectors[].logout': r.connectors[0]!.logout,
      'connectors[].refresh': r.connectors[0]!.refresh,
      'connectors[].domains': r.connectors[0]!.domains,
      'connectors[].idTokenMaxAge': r.connectors[0]!.idTokenMaxAge,
    };
    for (const [key, value] of Object.entries(applied)) expect([key, schemaDefault(schema, key)]).toEqual([key, value]);
  });

  test('docs/configuration.md shows the default the schema declares, for every key that has one', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    // Rows of the reference tables: | `key` | default | meaning |
    const rows = [...doc.matchAll(/^\| `([A-Za-z.[\]]+)` \| ([^|]*) \|/gm)].map((m) => [m[1]!, m[2]!.trim()] as const);
    const checked: string[] = [];
    for (const [key, column] of rows) {
      const path = /^[a-z]+$/i.test(key) && !(key in (schema.properties as Json)) ? `connectors[].${key}` : key;
      const value = schemaDefault(schema, path);
      if (value === undefined) continue;
      // The column starts with the value (`1800` or `1800` (at most `absoluteTimeout`)).
      const first = /^`([^`]*)`/.exec(column)?.[1];
      expect([key, first === undefined ? column : documented(first)]).toEqual([key, value]);
      checked.push(key);
    }
    expect(checked).toEqual(
      expect.arrayContaining(['basePath', 'hsts', 'session.idleTimeout', 'session.cacheTtl', 'tokens.scopes', 'logout', 'idTokenMaxAge']),
    );
  });
});
