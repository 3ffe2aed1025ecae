import { createHash } from 'node:crypto';
import {
  Metadata,
  status as Status,
  type ServerInterceptingCall,
  type ServerListener,
  type ServerMethodDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  DEDUP_SCOPE_METADATA_KEY,
  REASON_METADATA_KEY,
  classifyStatusCode,
  describeValue,
} from '@grpc-resilience/status';
import type { DedupErrorContext, ResolvedDedupOptions } from './dedup-options';
import type { DedupClaim, StoredOutcome } from './dedup-store';
import { requestFingerprint } from './fingerprint';
import { DEDUP_REASONS, isStoredOutcome, localStatus, replayOutcome } from './replay';
import { outcomeBytes, outcomeNotKept } from './store-limits';

type ServerCall = ConstructorParameters<typeof ServerInterceptingCall>[0];
/** A status as handlers send it: trailers may be missing (grpc-js's PartialStatusObject). */
type PartialStatusObject = Pick<StatusObject, 'code' | 'details'> & { metadata?: Metadata | null };
type Operation = DedupErrorContext['operation'];

/**
 * One call through the dedup interceptor: claims its key, runs or replays, and records the
 * handler's outcome whether or not the caller is still there.
 *
 * Why the cancel path matters: once the caller goes away (deadline, cancel, dropped connection),
 * grpc-js's base call drops whatever the handler sends next, and for unary and client-streaming
 * methods it never calls the message callback, so no status ever follows the response. The
 * message still passes through this interceptor's `sendMessage` hook, and a unary response
 * message is the whole outcome (status OK), so it is recorded from there. A response stream cut
 * short by its caller has no knowable end (grpc-js destroys the handler's stream on cancel), so
 * its key is released: the handler was told to stop, and a retry runs it again.
 */
export class DedupCall {
  private key?: string;
  private token?: string;
  /** The unary request's key, claimed when its message (which it is tied to) arrives. */
  private pendingKey?: string;
  private recording = false;
  private cancelled = false;
  private waiting?: AbortController;
  private headers?: Metadata;
  private messages: unknown[] = [];
  private messageBytes = 0;
  private sawMessage = false;
  private overflow = false;
  private unserializable = false;

  constructor(
    private readonly options: ResolvedDedupOptions,
    private readonly method: ServerMethodDefinition<unknown, unknown>,
    private readonly call: ServerCall,
  ) {}

  onReceiveMetadata(metadata: Metadata, next: (metadata: Metadata) => void): void {
    const value = metadata.get(this.options.header)[0];
    if (value === undefined) return next(metadata);
    let scope: unknown;
    try {
      scope = this.options.scopeOf({
        method: this.method.path,
        metadata,
        peer: this.call.getPeer(),
        authContext: this.call.getAuthContext(),
      });
      if (typeof scope !== 'string') throw new TypeError(`returned ${describeValue(scope)}`);
    } catch (error) {
      this.report(error, 'scopeOf');
      return this.fail(Status.INTERNAL, `dedup scopeOf failed: ${String(error)}`, 'scopeFailed');
    }
    // Hashed: a fixed size whatever the caller sends, and no separator a key could forge.
    const key = createHash('sha256')
      .update(`${scope}\u0000${this.method.path}\u0000${String(value)}`)
      .digest('base64url');
    // A request stream's key is claimed before any message arrives (its handler starts with the
    // metadata), so it is tied to the method only; a single request is tied to its message.
    if (this.method.requestStream) {
      this.claim(key, requestFingerprint(this.method.path), () => next(metadata));
    } else {
      this.pendingKey = key;
      next(metadata); // grpc-js starts a unary or server-stream handler only at the half-close
    }
  }

  onReceiveMessage(message: unknown, next: (message: unknown) => void): void {
    const key = this.pendingKey;
    if (key === undefined) return next(message);
    this.pendingKey = undefined;
    // Until `next`, grpc-js holds the half-close too: the handler cannot start.
    this.claim(key, requestFingerprint(this.method.path, message), () => next(message));
  }

  onCancel(): void {
    this.cancelled = true;
    this.waiting?.abort();
    if (!this.recording) return;
    if (this.method.responseStream) this.finish(undefined);
    else if (this.sawMessage) this.finish(okStatus());
    // Else a unary handler may still answer: its late message or status is recorded when it
    // comes, and the store's in-flight lease bounds how long the key waits for it.
  }

  sendMetadata(metadata: Metadata, next: (metadata: Metadata) => void): void {
    metadata.set(DEDUP_SCOPE_METADATA_KEY, this.options.scope);
    if (this.recording) this.headers = metadata.clone();
    next(metadata);
  }

  sendMessage(message: unknown, next: (message: unknown) => void): void {
    if (this.recording) this.record(message);
    next(message);
  }

  sendStatus(status: PartialStatusObject, next: (status: PartialStatusObject) => void): void {
    const metadata = status.metadata ?? new Metadata();
    metadata.set(DEDUP_SCOPE_METADATA_KEY, this.options.scope);
    const final: StatusObject = { ...status, metadata };
    if (this.recording) this.finish(final);
    next(final);
  }

  private record(message: unknown): void {
    this.sawMessage = true;
    if (!this.overflow) {
      try {
        this.messageBytes += this.method.responseSerialize(message).length;
      } catch {
        // grpc-js fails this call itself (INTERNAL) without a status through interceptors.
        this.unserializable = true;
      }
      if (this.messageBytes > this.options.maxOutcomeBytes) {
        this.overflow = true;
        this.messages = [];
      } else {
        this.messages.push(message);
      }
    }
    if (this.cancelled && !this.method.responseStream) this.finish(okStatus());
  }

  private claim(key: string, fingerprint: string, proceed: () => void): void {
    let claim: DedupClaim | Promise<DedupClaim>;
    try {
      claim = this.options.store.claim(key, fingerprint);
    } catch (error) {
      return this.storeFailed(error, 'claim');
    }
    if (isPromiseLike(claim)) {
      claim.then(
        (settled) => this.onClaim(key, settled, proceed),
        (error: unknown) => this.storeFailed(error, 'claim'),
      );
    } else {
      this.onClaim(key, claim, proceed);
    }
  }

  private onClaim(key: string, claim: DedupClaim, proceed: () => void): void {
    switch (claim?.state) {
      case 'new':
        if (typeof claim.token !== 'string') break;
        if (this.cancelled) return this.settle('release', key, claim.token);
        this.key = key;
        this.token = claim.token;
        this.recording = true;
        return proceed();
      case 'done':
        if (!isStoredOutcome(claim.outcome)) return this.badOutcome(claim.outcome);
        return replayOutcome(this.call, claim.outcome, this.options.scope);
      case 'in-flight':
        if (typeof claim.wait !== 'function') break;
        return this.wait(claim.wait);
      case 'mismatch':
        return this.fail(
          Status.INVALID_ARGUMENT,
          'this idempotency key was already used with a different request',
          'keyReused',
        );
      case 'full':
        return this.fail(
          Status.RESOURCE_EXHAUSTED,
          'the dedup store is full of requests in flight; try again later',
          'full',
        );
    }
    this.storeFailed(new TypeError(`claim returned ${describeValue(claim)}`), 'claim');
  }

  /** Waits on the first run, within this call's own deadline and cancellation. */
  private wait(wait: (signal: AbortSignal) => Promise<StoredOutcome | undefined>): void {
    if (this.cancelled) return;
    const waiting = new AbortController();
    this.waiting = waiting;
    let settled: Promise<StoredOutcome | undefined>;
    try {
      settled = Promise.resolve(wait(waiting.signal));
    } catch (error) {
      settled = Promise.reject(error);
    }
    settled.then(
      (outcome) => {
        this.waiting = undefined;
        if (this.cancelled) return;
        if (outcome === undefined) {
          return this.fail(
            Status.ABORTED,
            'a request with the same idempotency key ended without an outcome to keep; retry',
            'released',
          );
        }
        if (!isStoredOutcome(outcome)) return this.badOutcome(outcome);
        replayOutcome(this.call, outcome, this.options.scope);
      },
      (error: unknown) => {
        this.waiting = undefined;
        this.storeFailed(error, 'wait');
      },
    );
  }

  /** Records the outcome: kept for replay, or the key released for a rerun. Runs once. */
  private finish(status: StatusObject | undefined): void {
    if (!this.recording) return;
    this.recording = false;
    const key = this.key!;
    const token = this.token!;
    const { headers, messages, messageBytes } = this;
    this.headers = undefined;
    this.messages = [];
    if (status === undefined || this.unserializable || !isWorthKeeping(status)) {
      return this.settle('release', key, token);
    }
    let outcome: StoredOutcome = { headers, messages, status, messageBytes };
    if (this.overflow || outcomeBytes(outcome) > this.options.maxOutcomeBytes) {
      outcome = outcomeNotKept(
        `it was larger than maxOutcomeBytes (${this.options.maxOutcomeBytes})`,
      );
    }
    this.settle('complete', key, token, outcome);
  }

  private settle(
    operation: 'complete' | 'release',
    key: string,
    token: string,
    outcome?: StoredOutcome,
  ) {
    try {
      const result =
        operation === 'complete'
          ? this.options.store.complete(key, token, outcome!)
          : this.options.store.release(key, token);
      if (isPromiseLike(result))
        result.then(undefined, (error: unknown) => this.report(error, operation));
    } catch (error) {
      this.report(error, operation);
    }
  }

  private storeFailed(error: unknown, operation: Operation): void {
    this.report(error, operation);
    this.fail(
      Status.UNAVAILABLE,
      `dedup store ${operation} failed: ${String(error)}`,
      'storeFailed',
    );
  }

  private badOutcome(outcome: unknown): void {
    this.report(
      new TypeError(`the store returned ${describeValue(outcome)} as an outcome`),
      'claim',
    );
    // The first run may have happened: not UNAVAILABLE, which a keyed client would retry.
    this.fail(Status.INTERNAL, 'dedup store returned a malformed outcome', 'storeFailed');
  }

  private fail(code: Status, details: string, reason: keyof typeof DEDUP_REASONS): void {
    if (this.cancelled) return;
    this.call.sendStatus(localStatus(code, details, DEDUP_REASONS[reason], this.options.scope));
  }

  private report(error: unknown, operation: Operation): void {
    try {
      this.options.onError(error, { operation, method: this.method.path });
    } catch {
      // A reporting hook that throws must not take the call's outcome with it.
    }
  }
}

/** The status of a unary response whose status grpc-js dropped after a cancel: the handler's OK. */
function okStatus(): StatusObject {
  return { code: Status.OK, details: 'OK', metadata: new Metadata() };
}

/**
 * OK and the caller's own errors would come out the same again; server faults might not. Never
 * a CANCELLED or DEADLINE_EXCEEDED (about one attempt, not the request), nor a status this layer
 * made up (it carries `grpc-resilience-reason`): replaying those would answer with a non-answer.
 */
function isWorthKeeping(status: StatusObject): boolean {
  if (status.code === Status.OK) return true;
  if (status.code === Status.CANCELLED || status.code === Status.DEADLINE_EXCEEDED) return false;
  if (status.metadata?.get(REASON_METADATA_KEY).length) return false;
  return classifyStatusCode(status.code).fault === 'caller';
}

function isPromiseLike<T>(value: T | Promise<T> | void): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

/** The listener half of a {@link DedupCall}, as grpc-js wants it. */
export function dedupListener(dedup: DedupCall): ServerListener {
  return {
    onReceiveMetadata: (metadata, next) => dedup.onReceiveMetadata(metadata, next),
    onReceiveMessage: (message, next) => dedup.onReceiveMessage(message, next),
    onReceiveHalfClose: (next) => next(),
    onCancel: () => dedup.onCancel(),
  };
}
