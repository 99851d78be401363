/** A pino-compatible logger: `(obj, msg)`. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Wraps an injected logger so that a logger that throws can never break or hang a request. */
export function guardLogger(logger: Logger): Logger {
  const safe = (fn: (obj: object, msg?: string) => void) => (obj: object, msg?: string) => {
    try {
      fn.call(logger, obj, msg);
    } catch {
      // Logging must never change what the gateway answers.
    }
  };
  return { debug: safe(logger.debug), info: safe(logger.info), warn: safe(logger.warn), error: safe(logger.error) };
}

/** Default logger: warnings and errors to stderr, one JSON line each; nothing else. */
export function createDefaultLogger(): Logger {
  const write = (level: string) => (obj: object, msg?: string) => {
    const line = JSON.stringify({ level, time: new Date().toISOString(), name: 'fedgate', msg, ...obj });
    process.stderr.write(`${line}\n`);
  };
  const noop = () => {};
  return { debug: noop, info: noop, warn: write('warn'), error: write('error') };
}
