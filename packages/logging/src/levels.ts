import { status as Status } from '@grpc/grpc-js';
import { ConfigError, enumOption, type StatusClass } from '@grpc-resilience/status';
import { LOG_LEVELS, adaptLogger, type LogLevel, type SafeLogger } from './logger';
import { DEFAULT_REDACTED_KEYS } from './redact';

/**
 * The level of a failed call's record: the server's or the network's faults are warnings (errors
 * for what signals a bug or data loss: INTERNAL, UNKNOWN, DATA_LOSS from the server); the
 * caller's own errors, which the server handled as designed, are info.
 */
export function levelOf(cls: StatusClass): LogLevel {
  if (cls.fault === 'caller' || cls.fault === 'none') return 'info';
  if (
    cls.origin === 'server' &&
    (cls.code === Status.INTERNAL || cls.code === Status.UNKNOWN || cls.code === Status.DATA_LOSS)
  ) {
    return 'error';
  }
  return 'warn';
}

/** The options both logging interceptors share, validated. */
export interface LogSettings {
  logger: SafeLogger;
  successLevel: LogLevel;
  /** Lower-case metadata keys whose values never reach a record. */
  redacted: ReadonlySet<string>;
}

/** Validates and defaults the options both interceptors share; throws `ConfigError`. */
export function resolveLogSettings(input: Record<string, unknown>, path = 'logging'): LogSettings {
  return {
    logger: adaptLogger(input.logger, `${path}.logger`),
    successLevel: enumOption(`${path}.successLevel`, input.successLevel, 'debug', LOG_LEVELS),
    redacted: new Set([...DEFAULT_REDACTED_KEYS, ...resolveRedact(`${path}.redact`, input.redact)]),
  };
}

/** Metadata keys are lower-case on the wire, so entries match whatever case they are given in. */
function resolveRedact(path: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((key) => typeof key !== 'string' || key.length === 0))
    throw new ConfigError(path, 'must be an array of metadata key names', value);
  return value.map((key: string) => key.toLowerCase());
}
