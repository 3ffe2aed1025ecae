import { status as Status, type StatusObject } from '@grpc/grpc-js';
import { REASON_METADATA_KEY, classifyStatus } from '@grpc-resilience/status';

/**
 * What one attempt's end says about the target's servers, for the adaptive budget and throttle:
 * - `rejected`: they refused or could not take it: UNAVAILABLE (no connection included),
 *   RESOURCE_EXHAUSTED from a server, or a transport failure (a reset stream). A retry that ends
 *   so keeps its token spent; the throttle counts a request not accepted.
 * - `accepted`: a server answered, whatever the answer (OK, NOT_FOUND, even DEADLINE_EXCEEDED,
 *   which a slow server that is still serving gives): the SRE book's "accepted".
 * - `ignored`: nothing was learnt about the servers: the layer refused it itself (throttle, open
 *   circuit, bulkhead), or the caller's own doing ended it (a cancel, a closed channel, a message
 *   over a size limit, a keepalive the server's ping enforcement refused), as classified by
 *   the status package.
 */
export type AttemptVerdict = 'accepted' | 'rejected' | 'ignored';

export function attemptVerdict(status: StatusObject): AttemptVerdict {
  if (status.code === Status.OK) return 'accepted';
  if (status.metadata?.get(REASON_METADATA_KEY).length) return 'ignored';
  const cls = classifyStatus(status);
  if (cls.fault === 'caller' && cls.origin === 'local') return 'ignored';
  if (status.code === Status.UNAVAILABLE || status.code === Status.RESOURCE_EXHAUSTED)
    return 'rejected';
  return cls.origin === 'transport' ? 'rejected' : 'accepted';
}
