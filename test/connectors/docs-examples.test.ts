import { readFileSync } from 'node:fs';
import { builtinConnectors } from '../../connectors/registry.js';
import { loadConfig } from '../../lib/config/load.js';
import { SESSION_SECRET, testKeys } from '../fixtures/stack.js';

/** The vendor types whose docs/connectors.md examples this file checks. */
const types = ['oidc', 'auth0', 'okta', 'cognito', 'keycloak', 'entrust'];

/** The first ```json block under `## {type}` in docs/connectors.md. */
function exampleFor(type: string): Record<string, unknown> {
  const doc = readFileSync(new URL('../../docs/connectors.md', import.meta.url), 'utf8');
  const start = doc.indexOf(`\n## ${type}\n`);
  if (start < 0) throw new Error(`docs/connectors.md has no "## ${type}" section`);
  const block = /```json\n([\s\S]*?)\n```/.exec(doc.slice(start));
  if (!block?.[1]) throw new Error(`no JSON example under "## ${type}"`);
  return JSON.parse(block[1]) as Record<string, unknown>;
}

describe('docs/connectors.md examples', () => {
  test.each(types)('the %s example is a valid connector config as written', async (type) => {
    const connector = exampleFor(type);
    const env = Object.fromEntries([...JSON.stringify(connector).matchAll(/\$\{env:([A-Z0-9_]+)\}/g)].map((m) => [m[1], 'from-env-0123456789']));
    const config = loadConfig(
      {
        baseUrl: 'https://app.example.com',
        session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:6379' } },
        tokens: { keys: await testKeys() },
        connectors: [connector],
      },
      { registry: builtinConnectors, env },
    );
    expect(config.connectors[0]).toMatchObject({ id: type, type, logout: 'upstream' });
  });
});

describe('docs/interop.md examples', () => {
  test('the glewlwyd connector example is a valid connector config as written', async () => {
    const doc = readFileSync(new URL('../../docs/interop.md', import.meta.url), 'utf8');
    const block = /```json\n([\s\S]*?)\n```/.exec(doc.slice(doc.indexOf('\n## glewlwyd\n')));
    const connector = JSON.parse(block![1]!) as Record<string, unknown>;
    const config = loadConfig(
      {
        baseUrl: 'https://app.example.com',
        session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:6379' } },
        tokens: { keys: await testKeys() },
        connectors: [connector],
      },
      { registry: builtinConnectors, env: { GLEWLWYD_CLIENT_SECRET: 'from-env-0123456789' } },
    );
    expect(config.connectors[0]).toMatchObject({ id: 'glewlwyd', type: 'oidc', clientAuthMethod: 'client_secret_post', userinfo: true, logout: 'upstream' });
  });
});

test('the saml example is a valid connector config as written', async () => {
  const connector = exampleFor('saml');
  const config = loadConfig(
    {
      baseUrl: 'https://app.example.com',
      session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:6379' } },
      tokens: { keys: await testKeys() },
      connectors: [connector],
    },
    { registry: builtinConnectors },
  );
  expect(config.connectors[0]).toMatchObject({
    id: 'corpsaml',
    type: 'saml',
    metadataUrl: 'https://idp.example.com/saml2/idp/metadata.php',
    logout: 'upstream',
  });
});

test('every JSON example in docs/saml.md is a valid saml connector config', async () => {
  const doc = readFileSync(new URL('../../docs/saml.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
  expect(blocks.length).toBeGreaterThanOrEqual(4);
  for (const connector of blocks) {
    // The rotation example abbreviates its certificates; give it real-looking base64 of the same form.
    if (Array.isArray(connector.idpCert)) connector.idpCert = connector.idpCert.map(() => 'MIIC'.padEnd(64, 'A'));
    const config = loadConfig(
      {
        baseUrl: 'https://app.example.com',
        session: { secret: SESSION_SECRET, redis: { url: 'redis://127.0.0.1:6379' } },
        tokens: { keys: await testKeys() },
        connectors: [connector],
      },
      { registry: builtinConnectors },
    );
    expect(config.connectors[0]).toMatchObject({ type: 'saml' });
  }
});
