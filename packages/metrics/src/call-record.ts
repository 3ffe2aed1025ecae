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
  /** The deadline the attempts carried, ms since the epoch; undefined before the first. */
  deadline: number | undefined;

  constructor(
    readonly attributes: MethodAttributes,
    /** `performance.now()` when the call started. */
    readonly startedAt: number,
  ) {}

  /** An attempt starts: a hedge if another is in flight, else a retry after a delay. */
  attemptStarted(now: number): void {
    this.attempts++;
    if (this.active > 0) this.hedges++;
    else if (this.idleSince > 0) this.retryDelayS += (now - this.idleSince) / 1000;
    this.active++;
  }

  attemptEnded(now: number): void {
    if (--this.active === 0) this.idleSince = now;
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

/**
 * One clock read per event. The call's first attempt usually starts inside the call's own
 * start, and its last attempt's status usually reaches the call inside the attempt's
 * `onReceiveStatus` (the retry layer forwards a final status synchronously): the inner event
 * then takes the outer one's time instead of reading the clock again. The slots hold a record
 * only while such a synchronous stretch runs, so a time is never taken from another call or a
 * later tick.
 */
let starting: CallRecord | undefined;
let ending: CallRecord | undefined;
let endedAt = 0;

/** Runs the call's start (or its creation); attempts started meanwhile take its start time. */
export function startingCall(record: CallRecord): CallRecord | undefined {
  const previous = starting;
  starting = record;
  return previous;
}

export function startedCall(previous: CallRecord | undefined): void {
  starting = previous;
}

/** The time an attempt of `record` starts at: the call's start while that runs, else now. */
export function attemptStartTime(record: CallRecord | undefined): number {
  return record !== undefined && record === starting && record.attempts === 0
    ? record.startedAt
    : performance.now();
}

/** An attempt of `record` ended at `now` and passes its status up: the call may end meanwhile. */
export function endingAttempt(record: CallRecord, now: number): void {
  ending = record;
  endedAt = now;
}

/** The stretch is over; a call ending later (or one this stretch nested) reads the clock. */
export function endedAttempt(): void {
  ending = undefined;
}

/** The time `record` ends at: its last attempt's end while that runs, else now. */
export function callEndTime(record: CallRecord): number {
  return record === ending ? endedAt : performance.now();
}
