import type { Level, Logger } from 'pino';
import { status as Status } from '@grpc/grpc-js';
import { enumOption, type StatusClass } from '@grpc-resilience/status';
import { DEFAULT_REDACTED_KEYS } from './redact';

/**
 * The level of a failed call's record: the server's or the network's faults are warnings (errors
 * for what signals a bug or data loss: INTERNAL, UNKNOWN, DATA_LOSS from the server); the
 * caller's own errors, which the server handled as designed, are info.
 */
export function levelOf(cls: StatusClass): Level {
  if (cls.fault === 'caller' || cls.fault === 'none') return 'info';
  if (
    cls.origin === 'server' &&
    (cls.code === Status.INTERNAL || cls.code === Status.UNKNOWN || cls.code === Status.DATA_LOSS)
  ) {
    return 'error';
  }
  return 'warn';
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** The options both logging interceptors share, validated. */
export interface LogSettings {
  logger: Logger;
  successLevel: Level;
  redacted: ReadonlySet<string>;
}

export function resolveLogSettings(input: Record<string, unknown>): LogSettings {
  const logger = input.logger as Logger;
  if (!logger || typeof logger.info !== 'function')
    throw new TypeError('logging.logger must be a pino logger');
  return {
    logger,
    successLevel: enumOption('logging.successLevel', input.successLevel, 'debug', LEVELS),
    redacted: new Set([
      ...DEFAULT_REDACTED_KEYS,
      ...((input.redact as string[] | undefined) ?? []),
    ]),
  };
}
