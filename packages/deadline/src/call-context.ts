import { AsyncLocalStorage } from 'node:async_hooks';

type CancelListener = (reason: string) => void;

/**
 * The deadline and cancellation of the call a server handler is serving: the ambient context
 * that calls made inside the handler inherit. One per incoming call; cheap until used (the
 * AbortSignal and its deadline timer are made only when someone asks for `signal`).
 */
export class CallContext {
  /** The method being served, e.g. `/pkg.Service/Method` (empty outside gRPC). */
  readonly method: string;
  /** Absolute deadline in ms since the epoch (`Date.now()` clock); Infinity when none. */
  readonly deadline: number;
  private cancelReason: string | undefined;
  private listeners: Set<CancelListener> | undefined;
  private controller: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(deadline: number, method = '') {
    this.deadline = deadline;
    this.method = method;
  }

  /** Milliseconds left until the deadline (never negative; Infinity when none). */
  remainingMs(now = Date.now()): number {
    return Math.max(0, this.deadline - now);
  }

  /** Why the call was cancelled, or undefined while it is not. */
  get cancelled(): string | undefined {
    return this.cancelReason;
  }

  /**
   * Aborts when the incoming call is cancelled or its deadline passes: hand it to fetch, database
   * drivers, timers. Created on first use.
   */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.cancelReason !== undefined) {
        this.controller.abort(new Error(this.cancelReason));
      } else if (this.deadline !== Infinity) {
        const remaining = this.deadline - Date.now();
        if (remaining <= 0) this.cancel('deadline exceeded');
        else {
          this.deadlineTimer = setTimeout(() => this.cancel('deadline exceeded'), remaining);
          this.deadlineTimer.unref();
        }
      }
    }
    return this.controller.signal;
  }

  /** Calls `listener` once when the call is cancelled; returns the function that unsubscribes. */
  onCancel(listener: CancelListener): () => void {
    if (this.cancelReason !== undefined) {
      listener(this.cancelReason);
      return noop;
    }
    (this.listeners ??= new Set()).add(listener);
    return () => this.listeners?.delete(listener);
  }

  /** Marks the call cancelled and tells every listener (the server interceptor calls this). */
  cancel(reason: string): void {
    if (this.cancelReason !== undefined) return;
    this.cancelReason = reason;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.controller?.abort(new Error(reason));
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
  }

  /** Releases the timer and listeners once the call has ended. */
  end(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.listeners = undefined;
  }
}

function noop(): void {}

const storage = new AsyncLocalStorage<CallContext>();

/** The context of the incoming call being served here, if any. */
export function currentCallContext(): CallContext | undefined {
  return storage.getStore();
}

/** Milliseconds left for the incoming call being served (Infinity outside a handler). */
export function remainingTimeMs(): number {
  return storage.getStore()?.remainingMs() ?? Infinity;
}

/** The AbortSignal of the incoming call being served, if any. */
export function currentSignal(): AbortSignal | undefined {
  return storage.getStore()?.signal;
}

/**
 * Runs `fn` with `context` as the ambient call context: for entry points that are not gRPC
 * handlers (an HTTP request, a queue consumer) whose outgoing gRPC calls should inherit a budget.
 */
export function runWithCallContext<A extends unknown[], T>(
  context: CallContext,
  fn: (...args: A) => T,
  ...args: A
): T {
  return storage.run(context, fn, ...args);
}

/** Runs `fn` outside any call context: calls made inside inherit nothing (opt-out). */
export function runDetached<T>(fn: () => T): T {
  return storage.exit(fn);
}
