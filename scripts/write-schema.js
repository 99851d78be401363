// Writes schema/config.schema.json, the JSON Schema of the configuration file, from the zod
// schema that also types and validates it (one source of truth). Run after a build:
//   npm run schema
// test/package/schema.test.ts renders the same schema from the sources and fails when the
// committed file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Where the published schema lives. */
export const schemaFile = new URL('../schema/config.schema.json', import.meta.url);

/**
 * Renders the JSON Schema text (pretty-printed, trailing newline) for a connector registry.
 * `buildConfigSchema` and `registry` are passed in, so the test can render from the TypeScript
 * sources and this script from the build.
 */
export function renderConfigSchema(buildConfigSchema, registry) {
  // 'input': what a user writes (defaults make keys optional); refinements that JSON Schema
  // cannot express (e.g. "no fragment in a URL") are left to fedgate's own validation.
  const { $schema, ...rest } = z.toJSONSchema(buildConfigSchema(registry), { io: 'input', unrepresentable: 'any' });
  const document = {
    $schema,
    title: 'fedgate configuration',
    description: 'Configuration of the fedgate Express federation gateway. Generated from lib/config/schema.ts by npm run schema; do not edit.',
    ...rest,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

async function main() {
  const { builtinConnectors } = await import('../dist/index.js');
  const { buildConfigSchema } = await import('../dist/lib/config/schema.js');
  writeFileSync(schemaFile, renderConfigSchema(buildConfigSchema, builtinConnectors));
  console.log(`wrote ${fileURLToPath(schemaFile)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
