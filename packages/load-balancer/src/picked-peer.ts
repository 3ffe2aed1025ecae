import type { Metadata } from '@grpc/grpc-js';
import { PICKED_PEER_KEY, type PickedPeerSlot } from '@grpc-resilience/status';

/**
 * Tells the retry layer which endpoint an attempt went to, when it asked (a hedge must avoid
 * where its first attempt is still running, and grpc-js's `getPeer()` says 'unknown' until an
 * attempt commits).
 */
export function tellPickedPeer(metadata: Metadata, address: string): void {
  const slot = (metadata.getOptions() as { [PICKED_PEER_KEY]?: PickedPeerSlot })[PICKED_PEER_KEY];
  if (slot !== undefined) slot.peer = address;
}
