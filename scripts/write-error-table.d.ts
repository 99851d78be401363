/** Where the published error table lives. */
export declare const errorsFile: URL;

/** Renders docs/errors.md for an error registry (code → { status, doc }). */
export declare function renderErrorTable(errorCodes: Record<string, { status: number; doc: string }>): string;
