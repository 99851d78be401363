// The part of autocannon's API the bench uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      pipelining?: number;
      /** Seconds. */
      timeout?: number;
      headers?: Record<string, string>;
    }
    interface Result {
      errors: number;
      timeouts: number;
      non2xx: number;
      /** Seconds. */
      duration: number;
      requests: { total: number; sent: number; average: number };
      /** Whole milliseconds (HDR histogram); the bench records its own float latencies. */
      latency: { p50: number; p99: number };
    }
    /** Emits 'response' (client, statusCode, bytes, responseTimeMs) for every response. */
    type Instance = EventEmitter;
  }

  function autocannon(opts: autocannon.Options, cb: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance;
  export = autocannon;
}
