import { LONG_LIVED_CALL_KEY, PICKED_PEER_KEY, type PickedPeerSlot } from '@grpc-resilience/status';

/**
 * What the layer's interceptors leave for the picker in a call's metadata options (never sent):
 * read with one `getOptions()` per pick.
 */
export interface PickOptions {
  /** The retry layer's slot for the endpoint an attempt went to. */
  [PICKED_PEER_KEY]?: PickedPeerSlot;
  /** A call with a response stream: its own deadline, ms since the epoch. */
  [LONG_LIVED_CALL_KEY]?: number;
}

/**
 * Tells the retry layer which endpoint an attempt went to, when it asked (a hedge must avoid
 * where its first attempt is still running, and grpc-js's `getPeer()` says 'unknown' until an
 * attempt commits).
 */
export function tellPickedPeer(options: PickOptions, address: string): void {
  const slot = options[PICKED_PEER_KEY];
  if (slot !== undefined) slot.peer = address;
}
