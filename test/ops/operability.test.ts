import { Registry } from 'prom-client';
import { startStack, type Stack } from '../fixtures/stack.js';
import type { GatewayEvent } from '../../index.js';
import { createDefaultLogger } from '../../lib/logger.js';
import { waitFor } from '../fixtures/ports.js';

let stack: Stack;
const events: GatewayEvent[] = [];
const emitted: string[] = [];
const registry = new Registry();

beforeAll(async () => {
  stack = await startStack({
    options: { onEvent: (e) => events.push(e), metrics: { registry } },
    routes: (app, gateway) => {
      app.get('/metrics', gateway.metrics);
      app.get('/healthz', gateway.liveness);
      app.get('/readyz', gateway.readiness);
    },
  });
  stack.gateway.on('login.succeeded', (e) => emitted.push(`${e.type}:${e.connector}`));
});
afterAll(async () => {
  await stack?.close();
});

const ofType = (type: string) => events.filter((e) => e.type === type);

describe('audit events', () => {
  test('a real login and logout emit typed events with a request id, through onEvent and the EventEmitter', async () => {
    const b = await stack.login();
    expect(ofType('login.started').at(-1)).toMatchObject({ connector: 'corp', requestId: expect.any(String) });
    expect(ofType('login.succeeded').at(-1)).toMatchObject({ connector: 'corp', sub: 'corp|alice', requestId: expect.any(String) });
    expect(emitted).toContain('login.succeeded:corp');
    await b.post(`${stack.url}/auth/logout`, {}, { headers: { origin: stack.url } });
    expect(ofType('logout').at(-1)).toMatchObject({ connector: 'corp', sub: 'corp|alice', upstream: false });
  });

  test('failures emit login.failed with the error code: bad state, upstream access_denied', async () => {
    await stack.browser().get(`${stack.url}/auth/callback/corp?state=nope&code=x`);
    expect(ofType('login.failed').at(-1)).toMatchObject({ connector: 'corp', code: 'CALLBACK_STATE_INVALID' });
    stack.op.nextInteractionError = 'access_denied';
    const res = await stack.browser().follow(`${stack.url}/auth/login/corp`);
    expect(res.status).toBe(400);
    expect(ofType('login.failed').at(-1)).toMatchObject({ code: 'UPSTREAM_AUTHORIZATION_ERROR' });
  });

  test('revocation emits session.revoked', async () => {
    await stack.login();
    await stack.gateway.revokeSessions({ sub: 'corp|alice' });
    expect(ofType('session.revoked').at(-1)).toMatchObject({ sub: 'corp|alice', sessions: expect.any(Number) });
  });

  test('the client-supplied X-Request-Id is reused when well-formed, replaced when not', async () => {
    await fetch(`${stack.url}/auth/callback/corp?state=nope`, { headers: { 'x-request-id': 'req-123' } });
    expect(ofType('login.failed').at(-1)).toMatchObject({ requestId: 'req-123' });
    await fetch(`${stack.url}/auth/callback/corp?state=nope`, { headers: { 'x-request-id': 'bad id with spaces and <html>' } });
    expect(ofType('login.failed').at(-1)?.requestId).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });
});

describe('metrics', () => {
  test('logins, requireAuth outcomes, upstream latency and Redis latency are exported', async () => {
    const b = await stack.login();
    await b.get(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } });
    await fetch(`${stack.url}/dashboard`, { headers: { accept: 'application/json' } });
    await b.get(`${stack.url}/admin`, { headers: { accept: 'application/json' } });
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/fedgate_logins_total\{connector="corp",outcome="succeeded",code=""\} [1-9]/);
    expect(text).toMatch(/fedgate_logins_total\{connector="corp",outcome="failed",code="CALLBACK_STATE_INVALID"\} [1-9]/);
    expect(text).toMatch(/fedgate_require_auth_total\{outcome="allowed"\} [1-9]/);
    expect(text).toMatch(/fedgate_require_auth_total\{outcome="unauthenticated"\} [1-9]/);
    expect(text).toMatch(/fedgate_require_auth_total\{outcome="forbidden"\} [1-9]/);
    expect(text).toMatch(/fedgate_upstream_request_duration_seconds_count\{connector="corp",endpoint="token",ok="true"\} [1-9]/);
    expect(text).toMatch(/fedgate_upstream_request_duration_seconds_count\{connector="corp",endpoint="discovery",ok="true"\} [1-9]/);
    // The callback marks its state used (SET NX): a Redis command every login makes.
    expect(text).toMatch(/fedgate_redis_command_duration_seconds_count\{op="setnx",ok="true"\} [1-9]/);
    expect(text).toMatch(/fedgate_active_sessions_estimate -?\d+/);
  });

  test('without metrics the handler answers 404 and prom-client is never needed', async () => {
    const plain = await startStack({ redis: stack.redis, routes: (app, g) => app.get('/metrics', g.metrics) });
    try {
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

describe('health', () => {
  test('liveness is always 200; readiness flips when Redis stops and starts, revealing nothing secret', async () => {
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, redis: 'ready', keys: 'loaded', connectors: [{ id: 'corp', type: 'oidc', state: 'ready' }] });
    expect(JSON.stringify(body)).not.toMatch(/secret|127\.0\.0\.1/);
    await stack.redis.kill();
    try {
      await waitFor('readiness 503', async () => (await fetch(`${stack.url}/readyz`)).status === 503, { timeoutMs: 8000 });
      const down = await (await fetch(`${stack.url}/readyz`)).json();
      expect(down).toMatchObject({ ok: false, redis: 'down' });
      expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    } finally {
      await stack.redis.restart();
    }
    await waitFor('readiness 200', async () => (await fetch(`${stack.url}/readyz`)).status === 200, { timeoutMs: 10000 });
  });

  test('connector.unavailable and connector.recovered follow the upstream', async () => {
    const other = await startStack({ redis: stack.redis, options: { onEvent: (e) => events.push(e) } });
    try {
      other.op.down('reset');
      expect((await fetch(`${other.url}/auth/login/corp`, { headers: { accept: 'application/json' } })).status).toBe(503);
      expect(ofType('connector.unavailable').at(-1)).toMatchObject({ connector: 'corp', code: 'UPSTREAM_UNAVAILABLE' });
      other.op.up();
      await waitFor(
        'recovered',
        async () => {
          const r = await fetch(`${other.url}/auth/login/corp`, { redirect: 'manual' });

          return r.status === 302;
        },
        { timeoutMs: 8000 },
      );
      expect(ofType('connector.recovered').at(-1)).toMatchObject({ connector: 'corp' });
    } finally {
      await other.close();
    }
  });
});

describe('default logger', () => {
  test('writes warnings and errors to stderr as one JSON line each, and nothing else', () => {
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const log = createDefaultLogger();
      log.debug({ a: 1 }, 'debug');
      log.info({ a: 2 }, 'info');
      log.warn({ event: 'x' }, 'warned');
      log.error({ event: 'y' }, 'failed');
    } finally {
      process.stderr.write = original;
    }
    expect(writes).toHaveLength(2);
    expect(JSON.parse(writes[0]!)).toMatchObject({ level: 'warn', name: 'fedgate', msg: 'warned', event: 'x' });
    expect(JSON.parse(writes[1]!)).toMatchObject({ level: 'error', msg: 'failed', event: 'y' });
    expect(writes.every((w) => w.endsWith('\n') && w.split('\n').length === 2)).toBe(true);
  });
});
