import type { z } from 'zod';

/** A default as descriptions print it: `2000`, `"fedgate:"`, `{}`. */
function shown(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * `schema` with its default, written once: zod applies it when the key is absent (so the parsed
 * configuration and the cross-field checks see it), the JSON Schema publishes it as `default`
 * (scripts/write-schema.js) and the description ends with it.
 */
export function withDefault<T extends z.ZodType>(schema: T, value: z.util.NoUndefined<z.output<T>>, description: string): z.ZodDefault<T> {
  return schema.default(value).describe(`${description} Default ${shown(value)}.`);
}

/**
 * An optional `schema` whose default the loader applies itself because it depends on other keys
 * (capped at a shorter `session.absoluteTimeout`). `value` is published like {@link withDefault}'s;
 * the loader reads the same constant.
 */
export function withDeclaredDefault<T extends z.ZodType>(schema: T, value: z.output<T>, description: string, note = ''): z.ZodOptional<T> {
  return schema.optional().meta({ default: value, description: `${description} Default ${shown(value)}${note}.` });
}
