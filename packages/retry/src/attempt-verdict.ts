import { status as Status, type StatusObject } from '@grpc/grpc-js';
import { classifyStatus, layerRefusalReason } from '@grpc-resilience/status';

/**
 * What one attempt's end says about the target's servers, for the adaptive budget and throttle:
 * - `rejected`: they refused or could not take it: UNAVAILABLE (no connection included),
 *   RESOURCE_EXHAUSTED from a server (a limiter's shed refusal, `grpc-resilience-reason:
 *   overloaded` with pushback, first of all), or a transport failure (a reset stream). A retry
 *   that ends so keeps its token spent; the throttle counts a request not accepted.
 * - `accepted`: a server answered, whatever the answer (OK, NOT_FOUND, even DEADLINE_EXCEEDED,
 *   which a slow server that is still serving gives, or a server's refusal of a call with too
 *   little of its deadline left): the SRE book's "accepted".
 * - `ignored`: nothing was learnt about the servers: the layer refused it itself (throttle, open
 *   circuit, bulkhead), or the caller's own doing ended it (a cancel, a closed channel, a message
 *   over a size limit, a keepalive the server's ping enforcement refused), as classified by
 *   the status package.
 */
export type AttemptVerdict = 'accepted' | 'rejected' | 'ignored';

export function attemptVerdict(status: StatusObject): AttemptVerdict {
  if (status.code === Status.OK) return 'accepted';
  // Only a refusal the layer made itself: a server's (the kit's `overloaded`, `draining`) carries the
  // same reason in its trailers and is the clearest "not accepted" there is. Taken for the layer's
  // own, it refunded every retry's token and kept the throttle blind: 2.5 attempts per call at 3x
  // a server's capacity.
  if (layerRefusalReason(status) !== undefined) return 'ignored';
  const cls = classifyStatus(status);
  if (cls.fault === 'caller' && cls.origin === 'local') return 'ignored';
  if (status.code === Status.UNAVAILABLE || status.code === Status.RESOURCE_EXHAUSTED)
    return 'rejected';
  return cls.origin === 'transport' ? 'rejected' : 'accepted';
}
