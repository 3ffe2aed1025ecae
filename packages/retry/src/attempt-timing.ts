import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import {
  AVOID_PEER_METADATA_KEY,
  PICKED_PEER_KEY,
  type PickedPeerSlot,
} from '@grpc-resilience/status';
import type { ResolvedRetryOptions } from './options';

/** What a call knows about its time when it considers starting another attempt. */
export interface CallClock {
  /** When the logical call started (ms epoch); read only when there is a deadline. */
  startedAt: number;
  /** Its absolute deadline (ms epoch; Infinity when none). */
  deadline: number;
}

/**
 * Whether another attempt (a retry or a hedge) starting `delayMs` from now would have a useful
 * share of time left: at least `minAttemptShare` of the time one attempt is meant to have, that
 * is `perAttemptTimeoutMs` when set and shorter, else the call's whole timeout. An attempt with
 * less would most likely end in a local DEADLINE_EXCEEDED that hides the last real status.
 */
export function hasUsefulTimeLeft(
  clock: CallClock,
  options: ResolvedRetryOptions,
  delayMs = 0,
): boolean {
  const share = options.minAttemptShare;
  if (share === 0 || clock.deadline === Infinity) return true;
  const span = Math.min(clock.deadline - clock.startedAt, options.perAttemptTimeoutMs ?? Infinity);
  return clock.deadline - (options.now() + delayMs) >= share * span;
}

/**
 * Whether an attempt gets a per-attempt timer: only when a retry could follow it (an
 * idempotent call with attempts left), and only when the overall deadline would not come first.
 * An attempt no retry could follow runs to the overall deadline: cutting it short would turn a
 * slow answer into a DEADLINE_EXCEEDED whose outcome on the server is unknown.
 */
export function perAttemptTimeoutFor(
  options: ResolvedRetryOptions,
  idempotent: boolean,
  attempts: number,
  clock: CallClock,
): number | undefined {
  const ms = options.perAttemptTimeoutMs;
  if (ms === undefined || !idempotent || attempts >= options.maxAttempts) return undefined;
  return clock.deadline - options.now() > ms ? ms : undefined;
}

/** The status with which the layer cancels an attempt at its per-attempt timeout. */
export function attemptTimeoutDetails(ms: number): string {
  return `per-attempt timeout: no answer within ${ms} ms`;
}

export const ATTEMPT_TIMEOUT_CODE = Status.DEADLINE_EXCEEDED;

/**
 * A peer as a balancer can match it: `host:port` or `[v6]:port`. grpc-js's `getPeer()` gives
 * the channel's target instead (`dns:...`, `ipv4:a,b`) when the attempt never reached a
 * connection; that names no endpoint to avoid.
 */
const PEER_ADDRESS = /^(?:\[[0-9a-fA-F:.%]+\]|[^:/\s,[\]]+):\d{1,5}$/;

/** Metadata for an attempt whose picked endpoint should be written into `slot`. */
export function withPickedPeerSlot(metadata: Metadata, slot: PickedPeerSlot): Metadata {
  metadata.setOptions({ ...metadata.getOptions(), [PICKED_PEER_KEY]: slot } as ReturnType<
    Metadata['getOptions']
  >);
  return metadata;
}

/** `peer` when it names one endpoint, else undefined. */
export function avoidablePeer(peer: string): string | undefined {
  return PEER_ADDRESS.test(peer) ? peer : undefined;
}

/**
 * Request metadata of a retry or a hedge: a copy of the caller's (never changed), saying which
 * attempt this is (as grpc-js's own retries do) and which endpoints to avoid.
 */
export function nextAttemptMetadata(
  callerMetadata: Metadata,
  previousAttempts: number,
  avoidPeers: readonly string[],
): Metadata {
  const metadata = callerMetadata.clone();
  metadata.set('grpc-previous-rpc-attempts', String(previousAttempts));
  for (const peer of avoidPeers) metadata.add(AVOID_PEER_METADATA_KEY, peer);
  return metadata;
}

/** A status for the caller made locally (a cancel while no attempt can report one). */
export function localStatus(code: Status, details: string): StatusObject {
  return { code, details, metadata: new Metadata() };
}
