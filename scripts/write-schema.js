// Writes schema/config.schema.json, the JSON Schema of the configuration file, from the zod
// schema that also types and validates it (one source of truth). Run after a build:
//   npm run schema
// test/package/schema.test.ts renders the same schema from the sources and fails when the
// committed file is stale.
//
// zod's rendering is then adjusted so that standard validators and editors agree with the loader:
// - draft-07 (`ajv` and `ajv-cli` load it without flags; https://json-schema.org/specification-links#draft-7)
//   and no `format` keyword (ajv rejects unknown formats unless ajv-formats is added): URLs are
//   checked by a pattern instead;
// - `${env:NAME}` is accepted in every constrained string, as the loader substitutes it in every
//   string before validating (lib/config/env.ts);
// - a connector entry is checked against the schema of its `type` only (if/then keyed on the
//   `type` constant), so a typo gives one error at its path, not one per connector type;
// - defaults the loader applies are declared (`default`), for editors' hovers and completion:
//   each is a zod default (`withDefault`, lib/config/default.ts), which `z.toJSONSchema` publishes.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Where the published schema lives. */
export const schemaFile = new URL('../schema/config.schema.json', import.meta.url);

/** A string that contains an `${env:NAME}` placeholder (same name syntax as lib/config/env.ts). */
export const envPlaceholderPattern = '\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}';

// http(s) URL with a host: what the zod schema's `z.url({ protocol: /^https?$/ })` accepts, less
// the refinements only fedgate's own validation can express.
const httpUrlPattern = '^https?://[^\\s/?#]+([/?#]\\S*)?$';

/**
 * Renders the JSON Schema text (pretty-printed, trailing newline) for a connector registry.
 * `buildConfigSchema` and `registry` are passed in, so the test can render from the TypeScript
 * sources and this script from the build.
 */
export function renderConfigSchema(buildConfigSchema, registry) {
  // 'input': what a user writes (defaults make keys optional); refinements that JSON Schema
  // cannot express (e.g. "no fragment in a URL") are left to fedgate's own validation.
  const { $schema, ...rest } = z.toJSONSchema(buildConfigSchema(registry), { io: 'input', unrepresentable: 'any', target: 'draft-7' });
  // Placeholders first, so the `type` enum of the selection stays a plain enum.
  const body = selectConnectorsByType(acceptEnvPlaceholders(rest));
  const document = {
    $schema,
    title: 'fedgate configuration',
    description: 'Configuration of the fedgate Express federation gateway. Generated from lib/config/schema.ts by npm run schema; do not edit.',
    ...body,
    definitions: {
      envPlaceholder: { type: 'string', pattern: envPlaceholderPattern, description: 'Replaced by the environment variable NAME when the config is loaded.' },
    },
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Replaces the `oneOf` over connector types by an enum on `type` plus one if/then per type. */
function selectConnectorsByType(schema) {
  const items = schema.properties.connectors.items;
  const branches = items.oneOf ?? items.anyOf ?? [items];
  const types = branches.map((b) => b.properties.type.const);
  schema.properties.connectors.items = {
    type: 'object',
    required: ['type'],
    properties: { type: { type: 'string', enum: types, description: 'Connector type.' } },
    allOf: branches.map((branch, i) => ({ if: { properties: { type: { const: types[i] } } }, then: branch })),
  };
  return schema;
}

// Every string with a constraint a placeholder could fail (pattern, length, enum, URL) becomes
// "a string containing ${env:NAME}, else that". Constants stay: they discriminate (`type`).
function acceptEnvPlaceholders(node) {
  if (Array.isArray(node)) return node.map(acceptEnvPlaceholders);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    // Property names are not substituted, only values.
    out[key] = key === 'propertyNames' ? value : acceptEnvPlaceholders(value);
  }
  if (out.format !== undefined) {
    if (out.format !== 'uri') throw new Error(`write-schema: format "${out.format}" has no draft-07 pattern here; add one`);
    delete out.format;
    out.pattern = httpUrlPattern;
  }
  // `type: [a, b]` written as anyOf, which ajv's strict mode accepts without allowUnionTypes.
  if (Array.isArray(out.type) && Object.keys(out).every((k) => k === 'type' || k === 'description')) {
    const { type, ...others } = out;
    return { ...others, anyOf: type.map((t) => ({ type: t })) };
  }
  if (Array.isArray(out.anyOf)) return selectObjectUnionByKey(out);
  const constrained = ['pattern', 'minLength', 'maxLength', 'enum'].some((k) => k in out);
  if (out.type !== 'string' || !constrained || 'const' in out) return out;
  const { description, default: fallback, ...constraints } = out;
  // if/else rather than anyOf: a wrong literal gets the constraint's own error only, not also
  // "does not match the placeholder pattern".
  return {
    ...(description !== undefined ? { description } : {}),
    ...(fallback !== undefined ? { default: fallback } : {}),
    if: { $ref: '#/definitions/envPlaceholder' },
    else: constraints,
  };
}

// A union of closed objects told apart by a key (Redis `url` / `sentinels` / `cluster`, scope
// rules `includes` / `equals` / `always`): select the branch by that key, like connector types,
// so a typo inside one form is not also reported against the others.
function selectObjectUnionByKey(node) {
  const branches = node.anyOf;
  if (!branches.every((b) => b.type === 'object' && b.additionalProperties === false && Array.isArray(b.required))) return node;
  const keys = branches.map((b) => b.required.find((k) => branches.every((o) => o === b || !(k in (o.properties ?? {})))));
  if (keys.some((k) => k === undefined)) return node;
  const { anyOf, ...rest } = node;
  return {
    ...rest,
    type: 'object',
    allOf: [...branches.map((branch, i) => ({ if: has(keys[i]), then: branch })), { if: { not: { anyOf: keys.map(has) } }, then: has(keys[0]) }],
  };
}

// `properties` alongside `required` keeps ajv's strictRequired mode content.
function has(key) {
  return { properties: { [key]: true }, required: [key] };
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
