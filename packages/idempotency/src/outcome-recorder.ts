import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { REASON_METADATA_KEY, classifyStatusCode } from '@grpc-resilience/status';
import type { StoredOutcome } from './dedup-store';
import { retainedBytes } from './retained-bytes';
import { outcomeBytes, outcomeNotKept } from './store-limits';

/**
 * What the handler of a claimed key sends, kept (within `maxOutcomeBytes`) until its status
 * says whether it is worth replaying. A message counts the larger of its serialized size (the
 * method's own `responseSerialize`) and what its object holds on the heap (`retainedBytes`): the
 * store keeps the objects, and a repeated field of short strings holds several times its wire
 * size, so counting wire bytes alone let the store's byte bound be passed fourfold.
 */
export class OutcomeRecorder {
  private headers?: Metadata;
  private messages: unknown[] = [];
  private messageBytes = 0;
  private overflow = false;
  private unserializable = false;
  /** Whether the handler sent a response message. */
  sawMessage = false;

  constructor(
    private readonly serialize: (message: unknown) => Buffer,
    private readonly maxOutcomeBytes: number,
  ) {}

  recordHeaders(metadata: Metadata): void {
    this.headers = metadata.clone();
  }

  recordMessage(message: unknown): void {
    this.sawMessage = true;
    if (this.overflow) return;
    try {
      this.messageBytes += Math.max(this.serialize(message).length, retainedBytes(message));
    } catch {
      // grpc-js fails this call itself (INTERNAL) without a status through interceptors.
      this.unserializable = true;
    }
    if (this.messageBytes > this.maxOutcomeBytes) {
      this.overflow = true;
      this.messages = []; // a keyed stream buffers no more than maxOutcomeBytes
    } else {
      this.messages.push(message);
    }
  }

  /**
   * The outcome to keep for `status`, or undefined when the key should be released instead
   * (`status` undefined means the end is unknowable). Drops what it held either way.
   */
  outcome(status: StatusObject | undefined): StoredOutcome | undefined {
    const { headers, messages, messageBytes } = this;
    this.headers = undefined;
    this.messages = [];
    if (status === undefined || this.unserializable || !isWorthKeeping(status)) return undefined;
    const outcome: StoredOutcome = { headers, messages, status, messageBytes };
    if (this.overflow || outcomeBytes(outcome) > this.maxOutcomeBytes) {
      return outcomeNotKept(`it was larger than maxOutcomeBytes (${this.maxOutcomeBytes})`);
    }
    return outcome;
  }
}

/** The status of a unary response whose status grpc-js dropped after a cancel: the handler's OK. */
export function okStatus(): StatusObject {
  return { code: Status.OK, details: 'OK', metadata: new Metadata() };
}

/**
 * OK and the caller's own errors would come out the same again; server faults might not. Never
 * a CANCELLED or DEADLINE_EXCEEDED (about one attempt, not the request), nor a status this layer
 * made up (it carries `grpc-resilience-reason`): replaying those would answer with a non-answer.
 */
export function isWorthKeeping(status: StatusObject): boolean {
  if (status.code === Status.OK) return true;
  if (status.code === Status.CANCELLED || status.code === Status.DEADLINE_EXCEEDED) return false;
  if (status.metadata?.get(REASON_METADATA_KEY).length) return false;
  return classifyStatusCode(status.code).fault === 'caller';
}
