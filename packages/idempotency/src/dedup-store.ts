import type { Metadata, StatusObject } from '@grpc/grpc-js';
import type { DedupScope } from '@grpc-resilience/status';

/** What a call answered, kept to replay for a repeated key. */
export interface StoredOutcome {
  /** Response headers, if the handler sent any. */
  headers?: Metadata;
  /**
   * Response messages: the handler's objects, before serialization (the server has no response
   * deserializer, so replay hands the same objects back to grpc-js to serialize).
   */
  messages: unknown[];
  /** The final status with its trailers. */
  status: StatusObject;
  /**
   * Size of `messages`, bytes, measured by the dedup interceptor: for each message the larger of
   * its serialized size (the method's `responseSerialize`) and its object's heap estimate. Stores
   * account an outcome by this plus its metadata (see `outcomeBytes`).
   */
  messageBytes?: number;
}

/**
 * The result of claiming a key.
 * - `new`: this request runs; finish with `complete` or `release`, passing `token`.
 * - `done`: the stored outcome of an earlier run.
 * - `in-flight`: a run is under way; `wait` settles with its outcome, or `undefined` when it was
 *   released or its lease ran out, and no later than when `signal` aborts.
 * - `mismatch`: the key was used with a different request (fingerprint), or by another scope.
 * - `full`: the store holds as much as it may and none of it can be evicted (runs in flight).
 */
export type DedupClaim =
  | { state: 'new'; token: string }
  | { state: 'done'; outcome: StoredOutcome }
  | { state: 'in-flight'; wait(signal: AbortSignal): Promise<StoredOutcome | undefined> }
  | { state: 'mismatch' }
  | { state: 'full' };

/** How much a store holds now (its own accounting, for limits and tests). */
export interface DedupStoreUsage {
  /** Entries held, in flight and done. */
  entries: number;
  /** Estimated bytes held, in flight and done (see `outcomeBytes`). */
  bytes: number;
}

/**
 * Where outcomes are kept. Every method may return a promise and may throw: the dedup
 * interceptor turns a failure into a status for that call (the handler is not run when a claim
 * fails) and reports it through its `onError` hook.
 *
 * Contract (checked by the same tests for every store this project ships):
 * - `claim` is atomic: of concurrent claims of one key, exactly one gets `new`.
 * - A key is tied to the request's `fingerprint`; a claim with another fingerprint gets
 *   `mismatch`, whether the first run is in flight or done.
 * - `complete` and `release` act only while `token` still owns the key (an in-flight claim
 *   whose lease ran out and was claimed again is not overwritten by the late first run).
 * - Entries are bounded in count and bytes, in-flight ones included; an in-flight entry is never
 *   evicted before its lease ends (that would let the request run twice).
 */
export interface DedupStore {
  /**
   * How far this store reaches: `process` (one server process) or `shared` (every replica uses
   * it). Servers announce it in the `grpc-resilience-dedup-scope` header. Default `process`.
   */
  readonly scope?: DedupScope;
  /** Claims `key` for a request with this fingerprint. */
  claim(key: string, fingerprint: string): DedupClaim | Promise<DedupClaim>;
  /** Stores the outcome of the claimed key and wakes whoever waits for it. */
  complete(key: string, token: string, outcome: StoredOutcome): void | Promise<void>;
  /** Forgets a claimed key without an outcome (the call failed in a way worth running again). */
  release(key: string, token: string): void | Promise<void>;
}
