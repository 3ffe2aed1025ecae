import { ConfigError } from '@grpc-resilience/status';

/** Levels of a record, as pino names them. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export const LOG_LEVELS: readonly LogLevel[] = Object.freeze([
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
]);

type LogMethod = (record: object, message?: string) => void;

/**
 * The logger the layer writes to: pino's shape, of which only these members are used, so a pino
 * logger (custom levels included), a pino child, `console`, or any object with an `info` method
 * will do. Records are `(object, message)`, as pino takes them.
 */
export interface LayerLogger {
  info: LogMethod;
  trace?: LogMethod;
  debug?: LogMethod;
  warn?: LogMethod;
  error?: LogMethod;
  fatal?: LogMethod;
  /** pino's; without it, `trace` and `debug` are off (a console would print every call). */
  isLevelEnabled?: (level: string) => boolean;
}

/** A logger the interceptors can call at any level without checking, and that never throws. */
export interface SafeLogger {
  isLevelEnabled(level: LogLevel): boolean;
  write(level: LogLevel, record: object, message: string): void;
}

/** Where a level falls back when the logger lacks its method. */
const FALLBACK: Readonly<Record<LogLevel, LogLevel | undefined>> = Object.freeze({
  trace: undefined,
  debug: undefined,
  info: undefined,
  warn: 'info',
  error: 'warn',
  fatal: 'error',
});

/**
 * Checks a logger's shape at construction (a `ConfigError` naming `path` when it has no `info`
 * method) and wraps it: a missing level falls back to the next one that exists, and a logger
 * that throws is reported once with `process.emitWarning` and never costs a call its outcome.
 */
export function adaptLogger(value: unknown, path = 'logging.logger'): SafeLogger {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as LayerLogger).info !== 'function'
  )
    throw new ConfigError(
      path,
      'must be a logger with an info(object, message) method, such as pino',
      value,
    );
  const logger = value as LayerLogger;
  const methods = {} as Record<LogLevel, LogMethod | undefined>;
  for (const level of LOG_LEVELS) {
    let from: LogLevel | undefined = level;
    while (from !== undefined && typeof logger[from] !== 'function') from = FALLBACK[from];
    methods[level] = from === undefined ? undefined : (logger[from] as LogMethod);
  }
  let warned = false;
  const report = (error: unknown) => {
    if (warned) return;
    warned = true;
    process.emitWarning(`grpc-resilience: the logger threw, records are dropped: ${String(error)}`);
  };
  const enabled =
    typeof logger.isLevelEnabled === 'function'
      ? (level: LogLevel) => {
          try {
            return logger.isLevelEnabled!(level) === true;
          } catch (error) {
            report(error);
            return false;
          }
        }
      : (level: LogLevel) => level !== 'trace' && level !== 'debug' && methods[level] !== undefined;
  return {
    isLevelEnabled: enabled,
    write(level, record, message) {
      const method = methods[level];
      if (method === undefined) return;
      try {
        method.call(logger, record, message);
      } catch (error) {
        report(error);
      }
    },
  };
}
