import { invalidArgument } from '../errors.js';
import type { FedgateOptions } from './types.js';
import { isRecord } from '../values.js';

const isFunction = (v: unknown) => typeof v === 'function';
const isObject = (v: unknown) => typeof v === 'object' && v !== null;
/** Every logging method the logger has is a function; a missing one is skipped (lib/logger.ts guardLogger). */
const isLogger = (v: unknown) =>
  isObject(v)
  && ['debug', 'info', 'warn', 'error'].every((m) => {
    const method = (v as Record<string, unknown>)[m];
    return method === undefined || isFunction(method);
  });

/** What each option of `fedgate(config, options)` must be, and how to say so. */
const optionChecks: Record<keyof FedgateOptions, readonly [(v: unknown) => boolean, string]> = {
  redis: [isObject, 'an ioredis client or cluster'],
  logger: [isLogger, 'a pino-compatible logger (debug, info, warn, error methods)'],
  fetch: [isFunction, 'a function'],
  now: [isFunction, 'a function'],
  env: [isRecord, 'an object'],
  nodeEnv: [(v) => typeof v === 'string', 'a string'],
  renderChooser: [isFunction, 'a function'],
  onEvent: [isFunction, 'a function'],
  metrics: [(v) => typeof v === 'boolean' || isRecord(v), 'a boolean or { registry?, prefix? }'],
  connectorTypes: [(v) => v instanceof Map, 'a Map of type to connector factory'],
  views: [isRecord, 'an object'],
  errorHandler: [(v) => v === 'page' || v === 'next', "'page' or 'next'"],
};

/**
 * Checks the second argument of `fedgate()` (what JSON cannot carry; the configuration itself is
 * validated by lib/config). A wrong one is a programming error: a `TypeError` with
 * `code: 'INVALID_ARGUMENT'` naming the option, before anything is opened. `undefined` values
 * count as absent.
 */
export function checkFedgateOptions(options: unknown): asserts options is FedgateOptions {
  if (!isRecord(options)) throw invalidArgument('fedgate: options must be an object');
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const check = Object.hasOwn(optionChecks, name) ? optionChecks[name as keyof FedgateOptions] : undefined;
    if (!check) throw invalidArgument(`fedgate: unknown option "${name.slice(0, 40)}"`);
    if (!check[0](value)) throw invalidArgument(`fedgate: options.${name} must be ${check[1]}`);
  }
}
