import type { ZodType } from 'zod';

/** Where the published schema lives. */
export declare const schemaFile: URL;

/** Renders the JSON Schema text of the configuration for a connector registry. */
export declare function renderConfigSchema<R>(buildConfigSchema: (registry: R) => ZodType, registry: R): string;
