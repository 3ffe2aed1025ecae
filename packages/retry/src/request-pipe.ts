import type { InterceptingCallInterface } from '@grpc-resilience/status';
import { RequestQueue } from './request-queue';

type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

/** Each message's length prefix on the wire: an empty message still costs its frame. */
const GRPC_PREFIX_BYTES = 5;

/** What a pipe tells the call it belongs to. */
export interface RequestPipeOwner {
  /** The kept messages passed their limit: a retry could not replay them. */
  onOverLimit(): void;
  /** The current attempt has been handed every message written so far. */
  onCaughtUp(): void;
}

/** The parts of a method definition the pipe needs. */
interface RequestShape {
  readonly requestSerialize: (message: never) => Buffer;
}

/**
 * The request stream of one logical call (client and bidi streams; a single request is kept in
 * the call's own fields, see RequestRelay): every message the caller writes goes into one queue and
 * is handed to the current attempt in order, one write at a time (grpc-js holds a single pending
 * message), then the half-close. A new attempt is handed the queue from its start; after a
 * commit, only what the committed attempt has not had yet is kept. So a commit in the middle of
 * a replay loses nothing the caller wrote.
 *
 * Backpressure: the caller's write callback fires as soon as its message is kept for replay
 * within the byte limit; past it (the owner then commits), the callback waits until the message
 * is handed to an attempt. A call thus holds at most the limit plus one message.
 */
export class RequestPipe {
  private readonly queue = new RequestQueue();
  private attempt: InterceptingCallInterface | undefined;
  /** Position of the next message to hand to the attempt. */
  private sent = 0;
  /** A stream message is being written to the attempt (its callback is pending). */
  private writing = false;
  /** pump() is on the stack: a write callback made synchronously must not re-enter it. */
  private pumping = false;
  private halfClosed = false;
  private halfCloseSent = false;
  /** Every message is kept for a replay (until the call commits). */
  private keeping = true;
  private overLimit = false;
  private closed = false;
  /** The caller's write callback held back for backpressure, and its message's position. */
  private heldCallback: (() => void) | undefined;
  private heldPosition = -1;

  constructor(
    private readonly shape: RequestShape,
    private readonly maxBytes: number,
    private readonly owner: RequestPipeOwner,
  ) {}

  /** Bytes of the messages held now, as on the wire. */
  get bytes(): number {
    return this.queue.bytes;
  }

  /** Hands a new attempt everything the caller wrote, from the first message. */
  attach(attempt: InterceptingCallInterface): void {
    this.attempt = attempt;
    this.pump();
  }

  /** The attempt failed and a retry will follow: the next one starts from the first message. */
  detach(): void {
    this.attempt = undefined;
    this.writing = false;
    this.sent = 0;
    this.halfCloseSent = false;
  }

  /** The attempt the pipe served failed while another, handed everything, lives on. */
  adopt(hedge: InterceptingCallInterface): void {
    this.attempt = hedge;
  }

  /** No more retries: forget what the attempt already has, and each message once handed over. */
  commit(): void {
    this.keeping = false;
    this.queue.dropBefore(this.sent);
  }

  /** The call is over (cancelled, or its status delivered): nothing more is kept or sent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.clear();
    this.releaseWriter();
  }

  write(context: MessageContext, message: unknown): void {
    if (this.closed) {
      context.callback?.();
      return;
    }
    const size = this.shape.requestSerialize(message as never).length + GRPC_PREFIX_BYTES;
    const position = this.queue.push(message, size);
    if (!this.overLimit && this.queue.bytes > this.maxBytes) {
      this.overLimit = true;
      this.owner.onOverLimit();
    }
    if (this.keeping && !this.overLimit) {
      context.callback?.();
    } else {
      this.heldCallback = context.callback;
      this.heldPosition = position;
    }
    this.pump();
  }

  halfClose(): void {
    this.halfClosed = true;
    this.pump();
  }

  /**
   * Hands the attempt its next messages, one write at a time, and the half-close once it has
   * them all. A loop, not recursion: a call below may run the write callback synchronously (a
   * refused call does), and a replay of many messages would otherwise overflow the stack.
   */
  private pump(): void {
    if (this.pumping) return; // the loop on the stack sees what changed
    this.pumping = true;
    try {
      for (;;) {
        const attempt = this.attempt;
        if (attempt === undefined || this.closed || this.writing) return;
        if (this.sent === this.queue.end) {
          this.owner.onCaughtUp();
          if (this.halfClosed && !this.halfCloseSent) {
            this.halfCloseSent = true;
            attempt.halfClose();
          }
          return;
        }
        const position = this.sent++;
        const message = this.queue.at(position);
        if (!this.keeping) this.queue.dropBefore(this.sent);
        this.writing = true;
        attempt.sendMessageWithContext(
          { callback: () => this.onWritten(attempt, position) },
          message,
        );
      }
    } finally {
      this.pumping = false;
    }
  }

  private onWritten(attempt: InterceptingCallInterface, position: number): void {
    if (attempt !== this.attempt) return; // an abandoned attempt's late write
    this.writing = false;
    if (position === this.heldPosition) this.releaseWriter();
    this.pump();
  }

  private releaseWriter(): void {
    const callback = this.heldCallback;
    this.heldCallback = undefined;
    this.heldPosition = -1;
    callback?.();
  }
}
