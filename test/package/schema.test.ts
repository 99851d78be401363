import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigSchema, schemaFile } from '../../scripts/write-schema.js';
import { buildConfigSchema } from '../../lib/config/schema.js';
import { builtinConnectors } from '../../connectors/registry.js';

// schema/config.schema.json ships with the package for editors; it must match the zod schema
// the gateway validates with. Rendered here from the sources, so no build is needed.
describe('published JSON Schema', () => {
  const fresh = renderConfigSchema(buildConfigSchema, builtinConnectors);

  test('schema/config.schema.json is up to date (else: run `npm run schema`)', () => {
    let committed: string;
    try {
      committed = readFileSync(schemaFile, 'utf8');
    } catch {
      throw new Error(`${fileURLToPath(schemaFile)} is missing: run \`npm run schema\``);
    }
    if (committed !== fresh) {
      throw new Error('schema/config.schema.json is stale (the config schema changed): run `npm run schema` and commit the result');
    }
  });

  test('it describes the whole file: top-level keys, no unknown keys, every connector type', () => {
    const schema = JSON.parse(fresh) as {
      $schema: string;
      title: string;
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.title).toBe('fedgate configuration');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['$schema', 'baseUrl', 'basePath', 'session', 'tokens', 'connectors']));
    expect(schema.required).toEqual(expect.arrayContaining(['baseUrl', 'session', 'connectors']));
    expect(schema.required).not.toContain('basePath');
    expect(schema.additionalProperties).toBe(false);
    for (const type of builtinConnectors.keys()) expect(fresh).toContain(`"const": "${type}"`);
    // Descriptions from the zod schema reach the editor.
    expect(fresh).toContain('Seconds of inactivity after which a session ends');
  });
});
