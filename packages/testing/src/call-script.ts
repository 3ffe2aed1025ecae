import { Metadata, status as Status, type ServerErrorResponse } from '@grpc/grpc-js';
import { readBehaviour, type Behaviour } from './behaviour';
import type { BackendCounters } from './backend-counters';

/** The parts of a grpc-js server call that every call shape has. */
export interface AnyServerCall {
  metadata: Metadata;
  getDeadline(): Date | number;
  getPeer(): string;
  on(event: 'cancelled', listener: () => void): unknown;
}

/**
 * One server-side attempt of a test call: reads its behaviour from metadata, records it in the
 * backend's counters, and offers cancellable waits so that handlers stop when the call does.
 */
export class CallScript {
  readonly behaviour: Behaviour;
  readonly attempt: number;
  /** Whether the behaviour says this attempt fails. */
  readonly fails: boolean;
  cancelled = false;
  /** The handler sent its status: a later 'cancelled' is grpc-js closing the stream, no cancel. */
  private answered = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    call: AnyServerCall,
    method: string,
    counters: BackendCounters,
    defaults: Behaviour = {},
  ) {
    this.behaviour = withDefaults(readBehaviour(call.metadata), defaults);
    this.attempt = counters.recordCall(
      method,
      call.metadata,
      this.behaviour.callId,
      remainingMs(call),
      call.getPeer(),
    );
    const { failCode, failAttempts, failRatio } = this.behaviour;
    this.fails =
      failCode !== undefined &&
      failCode !== Status.OK &&
      (failAttempts === undefined || this.attempt <= failAttempts) &&
      (failRatio === undefined || Math.random() < failRatio);
    // grpc-js (1.14) emits 'cancelled' after every call's status is sent too; only one that
    // comes before the handler answered is a cancellation.
    call.on('cancelled', () => {
      this.cancelled = true;
      if (!this.answered) counters.cancellations++;
      for (const wake of this.waiters) wake();
      this.waiters.clear();
    });
  }

  /** Marks the call answered, then answers it with `send`. */
  answer<A extends unknown[]>(send: (...args: A) => unknown, ...args: A): void {
    this.answered = true;
    send(...args);
  }

  /** Waits `ms`; resolves true if the call is still alive afterwards, false once cancelled. */
  wait(ms: number | undefined): Promise<boolean> {
    if (!ms || ms <= 0) return Promise.resolve(!this.cancelled);
    if (this.cancelled) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve(!this.cancelled);
      }, ms);
      this.waiters.add(wake);
    });
  }

  /** The status to fail with, carrying the pushback trailer when asked for. */
  failure(): ServerErrorResponse & { code: Status } {
    const code = this.behaviour.failCode ?? Status.UNKNOWN;
    const metadata = new Metadata();
    if (this.behaviour.pushbackMs !== undefined) {
      metadata.set('grpc-retry-pushback-ms', String(this.behaviour.pushbackMs));
    }
    const details = this.behaviour.failDetails ?? `injected ${Status[code]}`;
    return Object.assign(new Error(details), { code, details, metadata });
  }

  /** A payload of the requested size for the reply (empty by default). */
  payload(): Buffer {
    return Buffer.alloc(this.behaviour.responseBytes ?? 0, 0x61);
  }
}

/** Milliseconds left until the call's deadline as the handler sees it (Infinity when none). */
function remainingMs(call: AnyServerCall): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return at === Infinity ? Infinity : at - Date.now();
}

/** The call's own behaviour, with the backend's defaults for whatever the call leaves unset. */
function withDefaults(own: Behaviour, defaults: Behaviour): Behaviour {
  const merged = { ...defaults };
  for (const key of Object.keys(own) as (keyof Behaviour)[]) {
    if (own[key] !== undefined && own[key] !== false)
      (merged as Record<string, unknown>)[key] = own[key];
  }
  return merged;
}
