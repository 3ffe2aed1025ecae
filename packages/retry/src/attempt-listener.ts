import type { InterceptingListener, Metadata, StatusObject } from '@grpc/grpc-js';
import type { DedupScope, InterceptingCallInterface } from '@grpc-resilience/status';
import type { PickedPeerSlot } from '@grpc-resilience/status';

/** What an attempt reports to the logical call it belongs to. */
export interface AttemptOwner {
  onMetadata(attempt: Attempt, metadata: Metadata): void;
  onMessage(attempt: Attempt, message: unknown): void;
  onStatus(attempt: Attempt, status: StatusObject): void;
}

/** A single response not received (yet): grpc-js passes `null` before some failed statuses. */
export const NO_RESPONSE = Symbol('no response');

/**
 * One attempt of a logical call: its listener, which forwards to the owner with itself as the
 * key (so the owner can tell a live attempt from an abandoned one), and what the owner keeps
 * per attempt, since a hedged call has two live at once.
 */
export class Attempt implements InterceptingListener, PickedPeerSlot {
  /** The grpc-js call below; set right after it is made, before it starts. */
  call!: InterceptingCallInterface;
  /** A single-response call's headers and response, held until the status says they stand. */
  headers: Metadata | undefined;
  response: unknown = NO_RESPONSE;
  /** Response headers arrived: the server saw the request. */
  headersReceived = false;
  /** The dedup scope the server declared in its headers. */
  declaredScope: DedupScope | undefined;
  /** The per-attempt timeout's timer, while armed. */
  timer: NodeJS.Timeout | undefined;
  /** The layer cancelled this attempt at its per-attempt timeout. */
  timedOut = false;
  /** Its status arrived. */
  ended = false;
  /** The endpoint the balancer picked for it, when the picker says (see PICKED_PEER_KEY). */
  peer: string | undefined;
  /**
   * The call abandoned it because another attempt answered first: it added load that bought
   * nothing, so the adaptive budget keeps its token spent.
   */
  lost = false;

  constructor(
    private readonly owner: AttemptOwner,
    /** When it started (the owner's clock, ms), to measure its latency. */
    readonly startedAt: number,
    /** A retry or a hedge (it carries `grpc-previous-rpc-attempts` and took a budget token). */
    readonly isRetry: boolean,
  ) {}

  onReceiveMetadata(metadata: Metadata): void {
    this.owner.onMetadata(this, metadata);
  }
  onReceiveMessage(message: unknown): void {
    this.owner.onMessage(this, message);
  }
  onReceiveStatus(status: StatusObject): void {
    this.owner.onStatus(this, status);
  }

  /** Stops the per-attempt timer, if armed. */
  clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
