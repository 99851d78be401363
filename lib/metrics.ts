import { createRequire } from 'node:module';
import type { Registry, Counter, Histogram, Gauge } from 'prom-client';
import { FedgateError } from './errors.js';
import type { GatewayEvent } from './events.js';
import type { Req, Res } from './http/respond.js';

/**
 * A prom-client `Registry`, typed by the members fedgate uses so that the shipped declarations
 * need no prom-client installed (it is an optional peer dependency).
 */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
  getSingleMetric(name: string): unknown;
}

/** `options.metrics`: `true` uses prom-client's default registry. */
export type MetricsOption = boolean | { registry?: MetricsRegistry; prefix?: string };

export type GuardOutcome = 'allowed' | 'unauthenticated' | 'forbidden' | 'unavailable';

/** Prometheus instruments; absent (undefined) when metrics are off, so they cost nothing. */
export interface Metrics {
  onEvent(event: GatewayEvent): void;
  guard(outcome: GuardOutcome): void;
  upstream(connector: string, endpoint: string, seconds: number, ok: boolean): void;
  redis(op: string, seconds: number, ok: boolean): void;
  /** Express/connect handler serving the exposition format. */
  handler(req: Req, res: Res): void;
}

/**
 * prom-client is an optional peer dependency, loaded only when metrics are asked for.
 * Loaded synchronously (it is CommonJS) because `fedgate()` is synchronous.
 */
export function createMetrics(option: MetricsOption | undefined): Metrics | undefined {
  if (!option) return undefined;
  let prom: typeof import('prom-client');
  try {
    prom = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  } catch {
    throw new FedgateError('CONFIG_INVALID', 'options.metrics needs the optional peer dependency "prom-client" (npm i prom-client)');
  }
  // A registry passed in is prom-client's own (MetricsRegistry only spells out what fedgate calls).
  const registry = ((typeof option === 'object' && option.registry) || prom.register) as Registry;
  const m = createInstruments(prom, registry, (typeof option === 'object' && option.prefix) || 'fedgate_');
  return {
    onEvent: (event) => countEvent(m, event),
    guard: (outcome) => m.guard.inc({ outcome }),
    upstream: (connector, endpoint, seconds, ok) => m.upstream.observe({ connector, endpoint, ok: String(ok) }, seconds),
    redis: (op, seconds, ok) => m.redis.observe({ op, ok: String(ok) }, seconds),
    handler(_req, res) {
      registry.metrics().then(
        (body) => {
          res.statusCode = 200;
          res.setHeader('Content-Type', registry.contentType);
          res.setHeader('Cache-Control', 'no-store');
          res.end(body);
        },
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
    },
  };
}

/** The instruments, registered once per registry (a second gateway on the same registry shares them). */
function createInstruments(prom: typeof import('prom-client'), registry: Registry, p: string) {
  const reg = <T>(make: () => T, name: string): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    reg(() => new prom.Counter({ name: p + name, help, labelNames, registers: [registry] }), p + name);
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]): Histogram<L> =>
    reg(() => new prom.Histogram({ name: p + name, help, labelNames, buckets, registers: [registry] }), p + name);
  return {
    logins: counter('logins_total', 'Completed logins by connector and outcome (failures carry the error code).', ['connector', 'outcome', 'code']),
    events: counter('events_total', 'Audit events by type.', ['type']),
    guard: counter('require_auth_total', 'requireAuth outcomes: allowed, unauthenticated (401/302), forbidden (403), unavailable (503).', ['outcome']),
    upstream: histogram(
      'upstream_request_duration_seconds',
      'Upstream HTTP request latency by connector and endpoint.',
      ['connector', 'endpoint', 'ok'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    redis: histogram(
      'redis_command_duration_seconds',
      'Redis command latency by operation (errors have ok="false").',
      ['op', 'ok'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 2.5],
    ),
    refresh: counter('refresh_total', 'Upstream refresh outcomes.', ['outcome']),
    active: reg(
      (): Gauge =>
        new prom.Gauge({
          name: `${p}active_sessions_estimate`,
          help: 'Sessions started minus sessions ended, as seen by this instance (an estimate).',
          registers: [registry],
        }),
      `${p}active_sessions_estimate`,
    ),
  };
}

function countEvent(m: ReturnType<typeof createInstruments>, event: GatewayEvent): void {
  m.events.inc({ type: event.type });
  switch (event.type) {
    case 'login.succeeded':
      m.logins.inc({ connector: event.connector, outcome: 'succeeded', code: '' });
      m.active.inc();
      break;
    case 'login.failed':
      m.logins.inc({ connector: event.connector ?? '', outcome: 'failed', code: event.code });
      break;
    case 'logout':
    case 'session.expired':
      m.active.dec();
      break;
    case 'session.revoked':
      m.active.dec(event.sessions);
      break;
    case 'backchannel.logout':
      m.active.dec(event.sessions);
      break;
    case 'refresh.succeeded':
      m.refresh.inc({ outcome: 'succeeded' });
      break;
    case 'refresh.failed':
      m.refresh.inc({ outcome: event.ended ? 'session_ended' : 'failed' });
      break;
    default:
      break;
  }
}

/** Names the upstream endpoint of a URL for the latency label, without any query values. */
export function classifyEndpoint(url: string): string {
  const path = (() => {
    try {
      return new URL(url).pathname.toLowerCase();
    } catch {
      return '';
    }
  })();
  if (path.includes('.well-known')) return 'discovery';
  if (/userinfo/.test(path)) return 'userinfo';
  if (/token/.test(path)) return 'token';
  if (/jwks|keys|certs/.test(path)) return 'jwks';
  return 'other';
}

/** Wraps fetch to time each upstream request of one connector. */
export function instrumentFetch(base: typeof fetch, connector: string, metrics: Metrics | undefined): typeof fetch {
  if (!metrics) return base;
  return (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const started = performance.now();
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    try {
      const res = await base(input, init);
      metrics.upstream(connector, classifyEndpoint(url), (performance.now() - started) / 1000, res.ok);
      return res;
    } catch (err) {
      metrics.upstream(connector, classifyEndpoint(url), (performance.now() - started) / 1000, false);
      throw err;
    }
  }) as typeof fetch;
}
