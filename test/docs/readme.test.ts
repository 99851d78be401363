import { readFileSync } from 'node:fs';
import { connectorBaseShape } from '../../lib/config/connector-base.js';
import { buildConfigSchema } from '../../lib/config/schema.js';
import { builtinConnectors } from '../../connectors/registry.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const configuration = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

test('docs/configuration.md documents every top-level, session, tokens and common connector key', () => {
  const shape = buildConfigSchema(builtinConnectors).shape;
  const keys: string[] = [];
  for (const k of Object.keys(shape)) if (!['$schema', 'connectors', 'session', 'tokens'].includes(k)) keys.push(k);
  const section = (name: 'session' | 'tokens') => {
    const inner = shape[name] as unknown as { unwrap?: () => { shape: Record<string, unknown> }; shape?: Record<string, unknown> };
    const obj = inner.shape ?? inner.unwrap?.().shape ?? {};
    return Object.keys(obj).map((k) => `${name}.${k}`);
  };
  keys.push(...section('session'), ...section('tokens'));
  const missing = keys.filter((k) => !configuration.includes(`\`${k}\``));
  expect(missing).toEqual([]);
  const connectorMissing = Object.keys(connectorBaseShape).filter((k) => !configuration.includes(`\`${k}\``));
  expect(connectorMissing).toEqual([]);
});

test('every per-vendor connector example in the README is a valid connector config', async () => {
  const { loadConfig } = await import('../../lib/config/load.js');
  const start = readme.indexOf('## Connectors');
  const block = readme.slice(readme.indexOf('```json', start) + 7, readme.indexOf('```', readme.indexOf('```json', start) + 7));
  const lines = block.split('\n').filter((l) => l.trim().startsWith('{'));
  expect(lines.length).toBe(9);
  const env = new Proxy({}, { get: () => 'example-value-0123456789-abcdefghijklmnopq' }) as Record<string, string>;
  const types = new Set<string>();
  for (const line of lines) {
    const connector = JSON.parse(line) as { type: string };
    types.add(connector.type);
    expect(() => loadConfig({
      baseUrl: 'https://app.example.com',
      session: { secret: 'a-session-secret-with-enough-entropy-0123456789', redis: { url: 'redis://127.0.0.1:6379' } },
      tokens: { insecureEphemeralKeys: true },
      connectors: [connector],
    }, { registry: builtinConnectors, env })).not.toThrow();
  }
  expect([...types].sort()).toEqual([...builtinConnectors.keys()].sort());
});
