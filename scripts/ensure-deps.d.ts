/** Whether a checkout needs `npm ci`, and why (or why not). */
export interface InstallDecision {
  install: boolean;
  reason: string;
}

/** Decides whether `root` needs `npm ci` (node_modules missing or out of date with package-lock.json). */
export declare function installDecision(root: string): InstallDecision;

/** Runs `npm ci` in `root` when needed; returns the exit code. */
export declare function ensureDeps(root: string, log?: (line: string) => void): number;
