import type { ConfigProblem } from '../errors.js';
import { formatPath } from './paths.js';

const envPattern = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${env:NAME}` in every string of a JSON value. A missing variable is a problem
 * naming the path and the variable, never a value.
 */
export function substituteEnv(value: unknown, env: Readonly<Record<string, string | undefined>>, problems: ConfigProblem[], path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(envPattern, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // Own data properties only; a `__proto__` key in JSON becomes a plain own property here.
      Object.defineProperty(out, k, { value: substituteEnv(v, env, problems, [...path, k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}
