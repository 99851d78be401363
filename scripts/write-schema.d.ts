import type { ZodType } from 'zod';

/** Where the published schema lives. */
export declare const schemaFile: URL;

/** A string that contains an `${env:NAME}` placeholder. */
export declare const envPlaceholderPattern: string;

/** Defaults the loader applies, by config path (`[]` steps into array items). */
export declare const configDefaults: Readonly<Record<string, unknown>>;

/** Renders the JSON Schema text of the configuration for a connector registry. */
export declare function renderConfigSchema<R>(buildConfigSchema: (registry: R) => ZodType, registry: R): string;
