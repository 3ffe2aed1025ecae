import type { Level } from 'pino';
import { status as Status } from '@grpc/grpc-js';
import type { StatusClass } from '@grpc-resilience/status';

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
