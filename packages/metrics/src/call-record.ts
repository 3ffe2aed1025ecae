import type { InterceptorOptions } from '@grpc/grpc-js';
import type { MethodAttributes } from './attributes';

/**
 * What one logical call's attempts add up to, shared by the call interceptor (outermost) and the
 * attempt interceptor (innermost) through the call's options object, which grpc-js passes down
 * the chain and the retry layer reuses for every attempt. A symbol key survives an interceptor
 * that copies the options with a spread.
 */
export class CallRecord {
  attempts = 0;
  /** Attempts in flight. */
  active = 0;
  /** `performance.now()` when the last attempt ended; 0 before any did. */
  idleSince = 0;
  /** Time with no attempt in flight between the first attempt and the last, seconds. */
  retryDelayS = 0;
  /** Attempts started while another was in flight. */
  hedges = 0;
  /**
   * Attempts started, with none in flight, after one that never reached the server's
   * application: gRFC A96's transparent retries (the retry layer makes them whatever the
   * method's idempotency). Counted apart from retries, as A96 asks.
   */
  transparentRetries = 0;
  /** The attempt that ended last never reached the server's application. */
  private lastNeverSent = false;
  /** The deadline the attempts carried, ms since the epoch; undefined before the first. */
  deadline: number | undefined;

  constructor(
    readonly attributes: MethodAttributes,
    /** `performance.now()` when the call started. */
    readonly startedAt: number,
  ) {}

  /**
   * An attempt starts: a hedge if another is in flight, else, after the first, a retry after a
   * delay, transparent if the attempt that ended last never reached the server.
   */
  attemptStarted(now: number): void {
    this.attempts++;
    if (this.active > 0) this.hedges++;
    else if (this.idleSince > 0) {
      this.retryDelayS += (now - this.idleSince) / 1000;
      if (this.lastNeverSent) this.transparentRetries++;
    }
    this.active++;
  }

  /** An attempt ended; `neverSent`: its request never reached the server's application. */
  attemptEnded(now: number, neverSent: boolean): void {
    this.lastNeverSent = neverSent;
    if (--this.active === 0) this.idleSince = now;
  }

  /** gRFC A96 retries: attempts after the first that were neither hedges nor transparent. */
  get retries(): number {
    return this.attempts - 1 - this.hedges - this.transparentRetries;
  }
}

const CALL_RECORD = Symbol('grpc-resilience.metrics.call');

type WithRecord = InterceptorOptions & { [CALL_RECORD]?: CallRecord };

export function attachRecord(options: InterceptorOptions, record: CallRecord): void {
  (options as WithRecord)[CALL_RECORD] = record;
}

export function recordOf(options: InterceptorOptions): CallRecord | undefined {
  return (options as WithRecord)[CALL_RECORD];
}
