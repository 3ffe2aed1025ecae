import { createHash } from 'node:crypto';
import {
  Metadata,
  status as Status,
  type ServerInterceptingCall,
  type ServerListener,
  type ServerMethodDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import { DEDUP_SCOPE_METADATA_KEY, describeValue } from '@grpc-resilience/status';
import type { DedupErrorContext, ResolvedDedupOptions } from './dedup-options';
import type { DedupClaim, StoredOutcome } from './dedup-store';
import { requestFingerprint } from './fingerprint';
import { OutcomeRecorder, okStatus } from './outcome-recorder';
import { DEDUP_REASONS, isStoredOutcome, localStatus, replayOutcome } from './replay';

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
  /** Set while this call runs the handler for its claimed key. */
  private recorder?: OutcomeRecorder;
  private cancelled = false;
  private waiting?: AbortController;

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
        // getAuthContext came to grpc-js in 2025 (grpc-node PR 2920); the peer range is older.
        authContext:
          typeof this.call.getAuthContext === 'function' ? this.call.getAuthContext() : {},
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
    if (!this.recorder) return;
    if (this.method.responseStream) this.finish(undefined);
    else if (this.recorder.sawMessage) this.finish(okStatus());
    // Else a unary handler may still answer: its late message or status is recorded when it
    // comes, and the store's in-flight lease bounds how long the key waits for it.
  }

  sendMetadata(metadata: Metadata, next: (metadata: Metadata) => void): void {
    // Set in place, not on a clone: grpc-js serializes this object once and nothing else reads
    // it, and the header is the same for every call of this server, so reuse is harmless.
    metadata.set(DEDUP_SCOPE_METADATA_KEY, this.options.scope);
    this.recorder?.recordHeaders(metadata);
    next(metadata);
  }

  sendMessage(message: unknown, next: (message: unknown) => void): void {
    if (this.recorder) {
      this.recorder.recordMessage(message);
      // After a cancel no status follows a unary response (see the class comment): this is it.
      if (this.cancelled && !this.method.responseStream) this.finish(okStatus());
    }
    next(message);
  }

  sendStatus(status: PartialStatusObject, next: (status: PartialStatusObject) => void): void {
    const metadata = status.metadata ?? new Metadata();
    metadata.set(DEDUP_SCOPE_METADATA_KEY, this.options.scope);
    const final: StatusObject = { ...status, metadata };
    if (this.recorder) this.finish(final);
    next(final);
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
        this.recorder = new OutcomeRecorder(
          this.method.responseSerialize,
          this.options.maxOutcomeBytes,
        );
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
    if (!this.recorder) return;
    const outcome = this.recorder.outcome(status);
    this.recorder = undefined;
    if (outcome) this.settle('complete', this.key!, this.token!, outcome);
    else this.settle('release', this.key!, this.token!);
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
