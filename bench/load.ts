/**
 * Load generation (in the orchestrator process, never in a server's): autocannon for the
 * per-request scenarios, a small fetch loop with a cookie jar for whole logins.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { createBrowser } from '../test/fixtures/browser.js';
import type { Child } from './ipc.js';

/** One measured window. Latencies in ms; `cpuUs` is the server's CPU per request (or per login). */
export interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  count: number;
  errors: number;
}

/** Exact percentile (nearest rank) of an ascending array. */
function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Per-metric median of repeated samples. */
export function medianSample(samples: Sample[]): Sample {
  const pick = (k: keyof Sample) => median(samples.map((s) => s[k]));
  return {
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    cpuUs: pick('cpuUs'),
    count: pick('count'),
    errors: Math.max(0, ...samples.map((s) => s.errors)),
  };
}

/** Growable float buffer: a run can record a few hundred thousand latencies. */
class Latencies {
  #buf = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.#buf.length) {
      const next = new Float64Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.#buf.slice(0, this.length).sort();
  }
}

export interface HttpLoad {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  /** Seconds. */
  duration: number;
}

/**
 * Drives `load` with autocannon while measuring `server`'s CPU. Every response must be 2xx (a
 * scenario that silently serves 401s or 503s would look fast), else this throws.
 */
export async function measureHttp(server: Child, load: HttpLoad): Promise<Sample> {
  const latencies = new Latencies();
  await server.cpuStart();
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: load.url,
        connections: load.connections,
        duration: load.duration,
        pipelining: 1,
        timeout: 10,
        headers: load.headers ?? {},
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    // autocannon's own histogram has whole-ms resolution; sub-ms latencies need the raw values.
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = await server.cpuStop();
  const failed = result.errors + result.timeouts + result.non2xx;
  if (failed > 0 || latencies.length === 0) {
    throw new Error(`${load.url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total} responses`);
  }
  const sorted = latencies.sorted();
  return {
    rps: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuUs: cpu / latencies.length,
    count: latencies.length,
    errors: 0,
  };
}

export interface LoginLoad {
  /** A protected page of the app: requesting it signed out starts the login. */
  startUrl: string;
  concurrency: number;
  /** Seconds. */
  duration: number;
}

/**
 * Whole logins, back to back on `concurrency` workers: each login is a fresh cookie jar (no
 * session at the app or the OP) following every redirect until the protected page answers 200.
 */
export async function measureLogins(server: Child, load: LoginLoad): Promise<Sample> {
  const origin = new URL(load.startUrl).origin;
  const latencies = new Latencies();
  let errors = 0;
  let firstError: string | undefined;
  await server.cpuStart();
  const t0 = performance.now();
  const deadline = t0 + load.duration * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        const res = await createBrowser({ timeoutMs: 10_000 }).follow(load.startUrl, { maxRedirects: 20 });
        if (res.status !== 200 || !res.url.startsWith(origin)) throw new Error(`ended with ${res.status} at ${res.url}`);
        latencies.push(performance.now() - started);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: load.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = await server.cpuStop();
  if (errors > 0 || latencies.length === 0)
    throw new Error(`${load.startUrl}: ${errors} failed logins of ${errors + latencies.length}: ${firstError ?? 'none completed'}`);
  const sorted = latencies.sorted();
  return {
    rps: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuUs: cpu / latencies.length,
    count: latencies.length,
    errors,
  };
}

/** One login through a real browser-like client; returns the named cookie the app set. */
export async function loginCookie(startUrl: string, cookieName: string): Promise<string> {
  const browser = createBrowser({ timeoutMs: 15_000 });
  const res = await browser.follow(startUrl, { maxRedirects: 20 });
  const origin = new URL(startUrl).origin;
  if (res.status !== 200 || !res.url.startsWith(origin)) {
    throw new Error(`login through ${startUrl} ended with ${res.status} at ${res.url}: ${res.body.slice(0, 200)}`);
  }
  const value = browser.cookies.get(origin, cookieName);
  if (value === undefined) throw new Error(`login through ${startUrl} set no '${cookieName}' cookie`);
  return `${cookieName}=${value}`;
}
