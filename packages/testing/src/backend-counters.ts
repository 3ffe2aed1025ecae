import type { Metadata } from '@grpc/grpc-js';

/** One attempt as the backend's handler saw it. */
export interface RecordedCall {
  /** Method name, e.g. `GetItem`. */
  method: string;
  callId: string | undefined;
  /** 1 for the first attempt of `callId` (or of the backend's calls without an id). */
  attempt: number;
  /** Milliseconds left until the deadline when the handler started (Infinity when none). */
  remainingMs: number;
  metadata: Metadata;
  /** When the handler started (`Date.now()`). */
  at: number;
  /** The client's address and port: a new port means a new connection. */
  peer: string;
}

/** What a test backend saw, to assert on. Reset with `reset()`. */
export class BackendCounters {
  /** Handler invocations of every method (every attempt counts). */
  calls = 0;
  /** Side effects applied (writes: PutItem, Charge, UploadItems). */
  sideEffects = 0;
  /** Calls whose handler saw a cancellation (by the client, its deadline, or a reset). */
  cancellations = 0;
  /** Request messages received on client and bidi streams. */
  messagesReceived = 0;
  /** Every attempt in arrival order. */
  readonly records: RecordedCall[] = [];
  private readonly attemptsByCallId = new Map<string, number>();
  private anonymousAttempts = 0;

  /** Handler invocations of one method. */
  callsOf(method: string): number {
    return this.records.filter((record) => record.method === method).length;
  }

  /** Attempts seen for one logical call. */
  attemptsOf(callId: string): number {
    return this.attemptsByCallId.get(callId) ?? 0;
  }

  /** Distinct client connections seen (by peer address and port). */
  get connections(): number {
    return new Set(this.records.map((record) => record.peer)).size;
  }

  /** Milliseconds left until the deadline as each handler saw it, in arrival order. */
  get deadlinesSeen(): number[] {
    return this.records.map((record) => record.remainingMs);
  }

  /** @internal Records one attempt and returns its attempt number. */
  recordCall(
    method: string,
    metadata: Metadata,
    callId: string | undefined,
    remainingMs: number,
    peer = '',
  ): number {
    this.calls++;
    let attempt: number;
    if (callId === undefined) {
      attempt = ++this.anonymousAttempts;
    } else {
      attempt = (this.attemptsByCallId.get(callId) ?? 0) + 1;
      this.attemptsByCallId.set(callId, attempt);
    }
    this.records.push({ method, callId, attempt, remainingMs, metadata, at: Date.now(), peer });
    return attempt;
  }

  reset(): void {
    this.calls = 0;
    this.sideEffects = 0;
    this.cancellations = 0;
    this.messagesReceived = 0;
    this.records.length = 0;
    this.attemptsByCallId.clear();
    this.anonymousAttempts = 0;
  }
}
