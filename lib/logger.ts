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

const levels = ['debug', 'info', 'warn', 'error'] as const;
/** A level of the default logger. */
export type LogLevel = (typeof levels)[number];

/**
 * Default logger: one JSON line per entry on stderr, from `level` up. The default level is
 * `FEDGATE_LOG_LEVEL` when it names a level, else `warn`: `info` adds the startup line and the
 * audit events, `debug` adds failure details such as `login.failed.detail`.
 */
export function createDefaultLogger(level: LogLevel = levelFromEnv(process.env.FEDGATE_LOG_LEVEL)): Logger {
  const min = levels.indexOf(level);
  const write = (name: LogLevel) =>
    levels.indexOf(name) < min
      ? () => {}
      : (obj: object, msg?: string) => {
          const line = JSON.stringify({ level: name, time: new Date().toISOString(), name: 'fedgate', msg, ...obj });
          process.stderr.write(`${line}\n`);
        };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

function levelFromEnv(value: string | undefined): LogLevel {
  return (levels as readonly string[]).includes(value ?? '') ? (value as LogLevel) : 'warn';
}
