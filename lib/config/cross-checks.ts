import type { ConnectorRegistry } from '../connector.js';
import type { ConfigProblem } from '../errors.js';
import { validateMapping } from '../claims/validate.js';
import { checkPrivateJwksSync } from '../tokens/keys.js';
import { validateOpConfig } from './op.js';
import { sessionSchema } from './schema.js';
import type { ConfigView } from './view.js';

/** What the cross-field rules need besides the configuration itself. */
export interface CrossCheckOptions {
  registry: ConnectorRegistry;
  nodeEnv?: string;
  /** Folder that a relative `tokens.keys` path resolves against. */
  baseDir: string;
  /** Read and check a `tokens.keys` file (off for offline tools that never sign). Default true. */
  readKeyFile?: boolean;
  /** The app hands fedgate its own ioredis client (`options.redis`): `session.redis` is then optional. */
  externalRedis?: boolean;
}

/** Whether a URL host names this machine (http is tolerated there in development). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

/** `u` without one trailing slash (issuers are compared exactly). */
export function stripSlash(u: string): string {
  return u.endsWith('/') ? u.slice(0, -1) : u;
}

/**
 * Rules that span several keys. They read only what passed the schema (`view`, defaults applied):
 * a rule whose inputs failed there is skipped, since that failure is already reported. Nothing is
 * caught: a connector type's `validate()` that throws fails the load with its own error.
 */
export function crossChecks(v: ConfigView, options: CrossCheckOptions): ConfigProblem[] {
  return [
    ...productionChecks(v, options.nodeEnv === 'production'),
    ...baseUrlChecks(v),
    ...sessionChecks(v, options.externalRedis === true),
    ...lifetimeChecks(v),
    ...keyChecks(v, options),
    ...opChecks(v),
    ...connectorChecks(v, options),
  ];
}

function productionChecks(v: ConfigView, production: boolean): ConfigProblem[] {
  if (!production) return [];
  const flags: Array<[string, boolean | undefined]> = [
    ['allowInsecureRequests', v.allowInsecureRequests],
    ['session.insecureMemoryStore', v.session?.insecureMemoryStore],
    ['tokens.insecureEphemeralKeys', v.tokens?.insecureEphemeralKeys],
  ];
  const problems: ConfigProblem[] = flags
    .filter(([, on]) => on === true)
    .map(([path]) => ({ path, message: 'development-only option refused with NODE_ENV=production' }));
  // An https site must not send the browser to an http page after logout (a downgrade).
  if (v.baseUrl?.startsWith('https:')) {
    v.connectors.forEach((c, i) => {
      const target = c?.['postLogoutRedirectUri'];
      if (typeof target === 'string' && target.startsWith('http:')) {
        problems.push({
          path: `connectors[${i}].postLogoutRedirectUri`,
          message: 'an http redirect target is refused with NODE_ENV=production and an https baseUrl',
        });
      }
    });
  }
  return problems;
}

function baseUrlChecks(v: ConfigView): ConfigProblem[] {
  if (v.baseUrl === undefined) return [];
  const problems: ConfigProblem[] = [];
  const baseUrl = new URL(v.baseUrl);
  if (baseUrl.protocol === 'http:' && v.allowInsecureRequests !== true && !v.invalid.has('allowInsecureRequests') && !isLoopback(baseUrl.hostname)) {
    problems.push({ path: 'baseUrl', message: 'must be https (http only for localhost, or with allowInsecureRequests)' });
  }
  if (v.session?.cookieName?.startsWith('__Host-') && baseUrl.protocol !== 'https:') {
    problems.push({ path: 'session.cookieName', message: '__Host- cookies need an https baseUrl' });
  }
  return problems;
}

function sessionChecks(v: ConfigView, externalRedis: boolean): ConfigProblem[] {
  const s = v.session;
  if (!s) return [];
  const problems: ConfigProblem[] = [];
  const redisGiven = s.redis !== undefined || v.invalid.has('session.redis');
  if (!redisGiven && !externalRedis && s.insecureMemoryStore !== true && !v.invalid.has('session.insecureMemoryStore')) {
    problems.push({ path: 'session.redis', message: 'required (or session.insecureMemoryStore for development)' });
  }
  if (s.redis && s.insecureMemoryStore) problems.push({ path: 'session.insecureMemoryStore', message: 'cannot be combined with session.redis' });
  if (externalRedis && s.insecureMemoryStore) problems.push({ path: 'session.insecureMemoryStore', message: 'cannot be combined with options.redis' });
  return problems;
}

/** The effective session.absoluteTimeout (its default applied), or undefined when it failed the schema. */
function absoluteTimeoutOf(v: ConfigView): { value: number; label: string } | undefined {
  const value = v.session?.absoluteTimeout;
  if (value === undefined) return undefined;
  return { value, label: value === sessionSchema.shape.absoluteTimeout.def.defaultValue ? `${value} s, the default` : `${value} s` };
}

function lifetimeChecks(v: ConfigView): ConfigProblem[] {
  const absolute = absoluteTimeoutOf(v);
  if (!absolute) return [];
  const problems: ConfigProblem[] = [];
  const idle = v.session?.idleTimeout;
  if (idle !== undefined && idle > absolute.value) {
    problems.push({ path: 'session.idleTimeout', message: `must not exceed session.absoluteTimeout (${absolute.label})` });
  }
  for (const key of ['accessTokenTtl', 'idTokenTtl'] as const) {
    const ttl = v.tokens?.[key];
    if (ttl !== undefined && ttl > absolute.value) {
      problems.push({
        path: `tokens.${key}`,
        message: `must not exceed session.absoluteTimeout (${absolute.label}): a token must not outlive every session it could come from`,
      });
    }
  }
  return problems;
}

function keyChecks(v: ConfigView, options: CrossCheckOptions): ConfigProblem[] {
  const t = v.tokens;
  if (!t || v.invalid.has('tokens.keys')) return [];
  if (t.keys === undefined) {
    if (t.insecureEphemeralKeys === true || v.invalid.has('tokens.insecureEphemeralKeys')) return [];
    return [{ path: 'tokens.keys', message: 'required (or tokens.insecureEphemeralKeys for development)' }];
  }
  if (typeof t.keys === 'string' && options.readKeyFile === false) return [];
  return checkPrivateJwksSync(t.keys, options.baseDir, 'tokens.keys');
}

function opChecks(v: ConfigView): ConfigProblem[] {
  const t = v.tokens;
  const needed = ['tokens.issuer', 'tokens.audience'];
  // Keys with a default are undefined here only when they failed the schema.
  if (
    !v.op
    || v.baseUrl === undefined
    || v.basePath === undefined
    || v.allowInsecureRequests === undefined
    || t?.scopes === undefined
    || needed.some((p) => v.invalid.has(p))
  )
    return [];
  const origin = new URL(v.baseUrl).origin;
  return validateOpConfig(v.op, {
    baseUrl: origin,
    basePath: v.basePath,
    issuer: stripSlash(t.issuer ?? `${origin}${v.basePath}`),
    allowInsecureRequests: v.allowInsecureRequests,
    localScopes: Object.keys(t.scopes),
    audience: t.audience ?? origin,
  });
}

function connectorChecks(v: ConfigView, options: CrossCheckOptions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  const allowInsecureRequests = v.allowInsecureRequests === true;
  v.connectorFields.forEach((fields, i) => {
    // The common keys are checked even when another key of the entry (or its type) is wrong.
    const at = `connectors[${i}]`;
    if (fields.id !== undefined) {
      if (seen.has(fields.id)) problems.push({ path: `${at}.id`, message: `duplicate connector id "${fields.id}"` });
      seen.add(fields.id);
    }
    if (fields.claims) problems.push(...validateMapping(fields.claims, `${at}.claims`));
    const conn = v.connectors[i];
    if (!conn) return;
    const type = options.registry.get(conn.type);
    if (type?.validate && !v.invalid.has('allowInsecureRequests')) problems.push(...type.validate(conn, at, { allowInsecureRequests }));
  });
  return problems;
}
