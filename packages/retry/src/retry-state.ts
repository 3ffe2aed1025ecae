/**
 * The phases of one logical call in the retry layer, and the only moves between them. Kept apart
 * from the call itself so the table can be read, and tested, without sockets.
 *
 * - `attempting`: an attempt is live and has every request message the caller wrote so far (or
 *   is being handed them in order); the call may still be retried.
 * - `replaying`: a retry's attempt is live and is being handed the kept messages, one write at a
 *   time; messages the caller writes meanwhile queue behind them.
 * - `backing-off`: the last attempt failed and may be retried; a timer waits for the next one.
 * - `timed-out`: the live attempt ran past `perAttemptTimeoutMs` and was cancelled; its status is
 *   awaited, then it is retried (idempotent calls) or ends the call. A caller's cancel ends the
 *   call at once.
 * - `hedging`: a unary idempotent call has a second attempt live beside the first (a hedge); the
 *   first success wins and the others are cancelled; a retryable failure of one leaves the other.
 * - `committed`: no more retries (the caller has seen part of a streaming response, or the kept
 *   messages passed their limit). Messages not yet handed to the attempt still go to it, in
 *   order, before the half-close; a failure is final. A commit made while backing off waits for
 *   the one last attempt.
 * - `finished`: the call's one status has been delivered; everything else is dropped.
 */
export type RetryState =
  'attempting' | 'replaying' | 'timed-out' | 'hedging' | 'backing-off' | 'committed' | 'finished';

/** What moves a call from one phase to the next. */
export type RetryTransition =
  /** An attempt failed and will be retried after a backoff. */
  | 'retry'
  /** The backoff ended: the next attempt starts and replays. */
  | 'resume'
  /** The replaying attempt has been handed every kept message. */
  | 'caught-up'
  /** A response header or message reached the caller, or the kept messages passed their limit. */
  | 'commit'
  /** The live attempt passed its per-attempt timeout and is being cancelled. */
  | 'attempt-timeout'
  /** A second attempt (a hedge) starts beside the live one. */
  | 'hedge'
  /** One of the parallel attempts failed in a way worth retrying; the other stays live. */
  | 'hedge-dropped'
  /** The final status was delivered (or the caller cancelled during a backoff). */
  | 'finish';

const TRANSITIONS: Readonly<Record<RetryState, Partial<Record<RetryTransition, RetryState>>>> =
  Object.freeze({
    attempting: {
      retry: 'backing-off',
      'attempt-timeout': 'timed-out',
      hedge: 'hedging',
      commit: 'committed',
      finish: 'finished',
    },
    replaying: {
      'caught-up': 'attempting',
      retry: 'backing-off',
      'attempt-timeout': 'timed-out',
      commit: 'committed',
      finish: 'finished',
    },
    // The kept messages may still pass their limit while the timed-out attempt's status is
    // awaited: that commits, and the status is then final.
    'timed-out': { retry: 'backing-off', commit: 'committed', finish: 'finished' },
    // Hedges are unary only: nothing can commit them before their status.
    hedging: { 'hedge-dropped': 'attempting', finish: 'finished' },
    'backing-off': { resume: 'replaying', commit: 'committed', finish: 'finished' },
    committed: { finish: 'finished' },
    finished: {},
  });

/** The phase after `transition` from `state`; throws on a move the table does not allow. */
export function nextRetryState(state: RetryState, transition: RetryTransition): RetryState {
  const next = TRANSITIONS[state][transition];
  if (next === undefined) throw new Error(`retry: no '${transition}' from '${state}'`);
  return next;
}

/** Whether a call in `state` may still start another attempt after a failure. */
export function isRetryable(state: RetryState): boolean {
  return state === 'attempting' || state === 'replaying' || state === 'timed-out';
}
