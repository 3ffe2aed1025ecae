import type { InterceptingCallInterface } from '@grpc-resilience/status';
import { RequestPipe, type RequestPipeOwner } from './request-pipe';

type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

/** The write context of a plain `sendMessage`: shared, so a write allocates none. */
const NO_CONTEXT: MessageContext = Object.freeze({});

/** A single request whose message has not been written yet. */
const NO_MESSAGE = Symbol('no request message');

/** The caller half-closed a single request. */
const HALF_CLOSED = 1;
/** The attached attempt has been handed the message. */
const MESSAGE_SENT = 2;
/** The attached attempt has been handed the half-close. */
const HALF_CLOSE_SENT = 4;
/** The call is over (cancelled, or its status delivered): nothing more is kept or sent. */
const CLOSED = 8;

/** The parts of a method definition the request side needs. */
interface RequestShape {
  readonly requestStream: boolean;
  readonly requestSerialize: (message: never) => Buffer;
}

/**
 * The request half of a logical call's plumbing: what the caller writes reaches the current
 * attempt, and every attempt after it. A request stream (client or bidi) goes through a
 * {@link RequestPipe}, which keeps its messages for replay within a byte limit. A single request
 * (unary, server stream: one message, then the half-close) is kept in this object's own fields,
 * so the common call allocates no pipe, no queue and no arrays: the message is handed to each
 * attempt as it is attached, and to a hedge all at once. A base class rather than a member, so a
 * call costs no extra allocation.
 *
 * A caller of a single-request method writes one message (grpc-js's client does); should an
 * interceptor above write another, each write still reaches the attempt, and a retry replays
 * the last one.
 */
export abstract class RequestRelay implements RequestPipeOwner {
  /** Client and bidi streams: the messages kept for replay. Undefined for a single request. */
  private readonly pipe: RequestPipe | undefined;
  /** A single request's message, once written. */
  private message: unknown = NO_MESSAGE;
  /** What the caller did and the target was handed, as bits (HALF_CLOSED...): a call has one. */
  private requestFlags = 0;
  /** The attempt a single request goes to, and what it has been handed. */
  private target: InterceptingCallInterface | undefined;

  constructor(shape: RequestShape, maxBufferBytes: number) {
    this.pipe = shape.requestStream ? new RequestPipe(shape, maxBufferBytes, this) : undefined;
  }

  /** @internal The kept messages passed `maxBufferBytes`: this attempt, or the next, is the last. */
  abstract onOverLimit(): void;
  /** @internal The replaying attempt has been handed every kept message. */
  abstract onCaughtUp(): void;

  /** Bytes of request messages the call holds now, as on the wire (for tests and diagnostics). */
  get bufferedBytes(): number {
    // A single message is not counted: it is never over a limit worth committing for.
    return this.pipe?.bytes ?? 0;
  }

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.pipe !== undefined) return this.pipe.write(context, message);
    this.keep(message);
    context.callback?.();
  }

  sendMessage(message: unknown): void {
    if (this.pipe !== undefined) return this.pipe.write(NO_CONTEXT, message);
    this.keep(message);
  }

  halfClose(): void {
    if (this.pipe !== undefined) return this.pipe.halfClose();
    this.requestFlags |= HALF_CLOSED;
    this.sendSingle();
  }

  /** Hands a new attempt everything the caller wrote, from the first message. */
  protected attachRequest(attempt: InterceptingCallInterface): void {
    if (this.pipe !== undefined) return this.pipe.attach(attempt);
    this.target = attempt;
    this.requestFlags &= ~(MESSAGE_SENT | HALF_CLOSE_SENT);
    this.sendSingle();
  }

  /** The attempt failed and a retry will follow: the next one starts from the first message. */
  protected detachRequest(): void {
    if (this.pipe !== undefined) return this.pipe.detach();
    this.target = undefined;
  }

  /**
   * Whether a single request is complete (its message written and half-closed), so that a hedge
   * can be handed all of it at once.
   */
  protected get isRequestComplete(): boolean {
    return this.pipe === undefined && (this.requestFlags & (HALF_CLOSED | CLOSED)) === HALF_CLOSED;
  }

  /** Hands a hedge the whole of a complete single request (see {@link isRequestComplete}). */
  protected copyRequestTo(hedge: InterceptingCallInterface): void {
    if (this.message !== NO_MESSAGE) hedge.sendMessage(this.message);
    hedge.halfClose();
  }

  /**
   * The attempt the request went to failed while a hedge, already handed everything by
   * {@link copyRequestTo}, lives on: later writes go to the hedge.
   */
  protected adoptRequest(hedge: InterceptingCallInterface): void {
    if (this.pipe !== undefined) return this.pipe.adopt(hedge);
    this.target = hedge;
  }

  /** No more retries: a stream forgets what the attempt already has. */
  protected commitRequest(): void {
    this.pipe?.commit();
  }

  /** The call is over (cancelled, or its status delivered): nothing more is kept or sent. */
  protected closeRequest(): void {
    if (this.pipe !== undefined) return this.pipe.close();
    this.requestFlags |= CLOSED;
    this.target = undefined;
    this.message = NO_MESSAGE;
  }

  private keep(message: unknown): void {
    if ((this.requestFlags & CLOSED) !== 0) return;
    this.message = message;
    this.requestFlags &= ~MESSAGE_SENT;
    this.sendSingle();
  }

  /** Hands the attached attempt the message and the half-close it has not had yet. */
  private sendSingle(): void {
    const target = this.target;
    if (target === undefined || (this.requestFlags & CLOSED) !== 0) return;
    if ((this.requestFlags & MESSAGE_SENT) === 0 && this.message !== NO_MESSAGE) {
      this.requestFlags |= MESSAGE_SENT;
      target.sendMessage(this.message);
      // A call below may end the attempt synchronously, and the call with it.
      if (this.target !== target) return;
    }
    this.onCaughtUp();
    if ((this.requestFlags & (HALF_CLOSED | HALF_CLOSE_SENT)) === HALF_CLOSED) {
      this.requestFlags |= HALF_CLOSE_SENT;
      target.halfClose();
    }
  }
}
