import { status as Status, type StatusObject } from '@grpc/grpc-js';
import {
  classifyStatus,
  isMessageTooLarge,
  layerRefusalReason,
  readRetryInfoMs,
  type StatusClass,
} from '@grpc-resilience/status';
import { hasUsefulTimeLeft } from './attempt-timing';
import { backoffDelayMs, parsePushback, retryDelayMs } from './backoff';
import type { GiveUpReason, ResolvedRetryOptions } from './options';

/** What to do after a failed attempt. */
export type RetryDecision =
  { retry: true; delayMs: number } | { retry: false; reason: GiveUpReason };

/** What the policy needs to know about the call besides its last status. */
export interface AttemptFacts {
  /** Attempts made so far (1 after the first). */
  attempts: number;
  idempotent: boolean;
  /** The call carries an idempotency key. */
  keyed: boolean;
  /** When the logical call started, ms epoch: with `deadline`, the call's whole timeout. */
  startedAt: number;
  /** Absolute deadline, ms epoch (Infinity when none). */
  deadline: number;
  /** The failed attempt received response headers: the server saw the request. */
  headersReceived?: boolean;
  /** The layer cut the attempt at its per-attempt timeout (its status is the layer's own). */
  timedOut?: boolean;
}

/** Whether a status is worth retrying at all, before asking whether it is safe. */
export function isRetryableStatus(
  status: StatusObject,
  cls: StatusClass,
  retryableCodes: ReadonlySet<Status>,
): boolean {
  // The overall deadline is final; a message over a size limit would be refused again, wherever
  // the limit was; the caller's own cancellation is the caller's wish.
  if (cls.code === Status.DEADLINE_EXCEEDED && cls.origin === 'local') return false;
  if (isMessageTooLarge(status)) return false;
  if (cls.fault === 'caller' && cls.origin === 'local') return false;
  if (cls.neverSent) return true;
  if (cls.origin === 'transport' && cls.retryableIfIdempotent) return true;
  return retryableCodes.has(cls.code);
}

/**
 * Decides whether a failed attempt is retried, and after how long. Order matters only for the
 * reason reported: what can never succeed, what is unsafe, then what is spent; the budget's
 * token last, so no other reason to stop wastes one.
 */
export function decideRetry(
  status: StatusObject,
  facts: AttemptFacts,
  options: ResolvedRetryOptions,
): RetryDecision {
  const delay = facts.timedOut
    ? delayAfterTimeout(facts, options)
    : delayAfter(status, facts, options);
  if (typeof delay !== 'number') return delay;
  // Never sleep past the deadline, nor start an attempt with too little of it left to be of use:
  // give up now with the real status instead.
  if (options.now() + delay >= facts.deadline || !hasUsefulTimeLeft(facts, options, delay))
    return { retry: false, reason: 'deadline' };
  if (options.budget && !options.budget.tryAcquire()) return { retry: false, reason: 'budget' };
  return { retry: true, delayMs: delay };
}

/**
 * After an attempt the layer cut at its per-attempt timeout (armed only for idempotent calls
 * with attempts left): the backoff, as after any failure. The status rules would refuse the
 * local DEADLINE_EXCEEDED, which is right for the overall deadline and wrong for the layer's own
 * per-attempt timer; no server spoke, so there is no hint to read.
 */
function delayAfterTimeout(
  facts: AttemptFacts,
  options: ResolvedRetryOptions,
): number | RetryDecision {
  if (!facts.idempotent) return { retry: false, reason: 'not-idempotent' };
  if (facts.attempts >= options.maxAttempts) return { retry: false, reason: 'max-attempts' };
  return backoffDelayMs(
    facts.attempts,
    options.initialBackoffMs,
    options.maxBackoffMs,
    options.multiplier,
    options.random,
  );
}

/** After a failed attempt: the wait before a retry, or why there is none. */
function delayAfter(
  status: StatusObject,
  facts: AttemptFacts,
  options: ResolvedRetryOptions,
): number | RetryDecision {
  // The layer's own refusals (an open circuit, a full bulkhead, the throttle) would refuse a
  // retry too. Only its own: a server that hands on its client's refusal sends the same reason in
  // its trailers, and that is the server's UNAVAILABLE, retried like any other.
  const refusal = layerRefusalReason(status);
  if (refusal === 'circuit-open' || refusal === 'bulkhead' || refusal === 'throttled')
    return { retry: false, reason: refusal };
  const cls = classifyStatus(status, { headersReceived: facts.headersReceived ?? false });
  if (!isRetryableStatus(status, cls, options.retryableCodes))
    return { retry: false, reason: 'non-retryable' };
  const safe = facts.idempotent || cls.neverSent || (facts.keyed && isKeyedRetrySafe(options));
  if (!safe) return { retry: false, reason: 'not-idempotent' };
  if (facts.attempts >= options.maxAttempts) return { retry: false, reason: 'max-attempts' };
  const pushback = parsePushback(status.metadata);
  if (pushback === 'stop') return { retry: false, reason: 'pushback' };
  // A hint the client cannot read is a server asking for something unknown: do not retry.
  const retryInfo = readRetryInfoMs(status.metadata);
  if (retryInfo === 'malformed') return { retry: false, reason: 'retry-info' };
  return retryDelayMs(facts.attempts, pushback, retryInfo, options);
}

/**
 * Whether a call that carries an idempotency key may run again on whichever server the retry
 * reaches. `'declared'` trusts only what the servers said: every one that answered declared a
 * shared store. `true` trusts the caller, except where servers said otherwise (a per-process
 * store behind more than one server).
 */
export function isKeyedRetrySafe(options: ResolvedRetryOptions): boolean {
  const scopes = options.dedupScopes;
  switch (options.serverDeduplicates) {
    case false:
      return false;
    case true:
      return !(scopes?.perProcessReplicas ?? false);
    default:
      return scopes?.allShared ?? false;
  }
}
