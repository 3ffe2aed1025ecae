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

const IS_RETRY = 1;
const HEADERS_RECEIVED = 2;
const TIMED_OUT = 4;
const ENDED = 8;
const LOST = 16;

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
  /** The dedup scope the server declared in its headers. */
  declaredScope: DedupScope | undefined;
  /** The per-attempt timeout's timer, while armed. */
  timer: NodeJS.Timeout | undefined;
  /** The endpoint the balancer picked for it, when the picker says (see PICKED_PEER_KEY). */
  peer: string | undefined;
  /**
   * When it started (the owner's clock, ms), set only where its latency is measured (a hedged
   * call): a number field on every attempt would cost a heap number each.
   */
  startedAt: number | undefined;
  /** The flags below, in one small integer: an attempt is made per call. */
  private flags: number;

  constructor(
    private readonly owner: AttemptOwner,
    /** A retry or a hedge (it carries `grpc-previous-rpc-attempts` and took a budget token). */
    isRetry: boolean,
  ) {
    this.flags = isRetry ? IS_RETRY : 0;
  }

  /** A retry or a hedge (it carries `grpc-previous-rpc-attempts` and took a budget token). */
  get isRetry(): boolean {
    return (this.flags & IS_RETRY) !== 0;
  }
  /** Response headers arrived: the server saw the request. */
  get headersReceived(): boolean {
    return (this.flags & HEADERS_RECEIVED) !== 0;
  }
  set headersReceived(value: boolean) {
    this.setFlag(HEADERS_RECEIVED, value);
  }
  /** The layer cancelled this attempt at its per-attempt timeout. */
  get timedOut(): boolean {
    return (this.flags & TIMED_OUT) !== 0;
  }
  set timedOut(value: boolean) {
    this.setFlag(TIMED_OUT, value);
  }
  /** Its status arrived. */
  get ended(): boolean {
    return (this.flags & ENDED) !== 0;
  }
  set ended(value: boolean) {
    this.setFlag(ENDED, value);
  }
  /**
   * The call abandoned it because another attempt answered first: it added load that bought
   * nothing, so the adaptive budget keeps its token spent.
   */
  get lost(): boolean {
    return (this.flags & LOST) !== 0;
  }
  set lost(value: boolean) {
    this.setFlag(LOST, value);
  }

  onReceiveMetadata(metadata: Metadata): void {
    this.owner.onMetadata(this, metadata);
  }
  onReceiveMessage(message: unknown): void {
    this.owner.onMessage(this, message);
  }
  onReceiveStatus(status: StatusObject): void {
    this.owner.onStatus(this, status);
  }

  private setFlag(flag: number, value: boolean): void {
    this.flags = value ? this.flags | flag : this.flags & ~flag;
  }

  /** Stops the per-attempt timer, if armed. */
  clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
