import * as grpc from '@grpc/grpc-js';
import { testServiceDefinition } from '@grpc-resilience/testing';
import { createDedupInterceptor } from './dedup-interceptor';
import type { DedupOptions } from './dedup-options';

/**
 * A real grpc-js server for dedup tests whose Charge and ListItems handlers do what a careless
 * production handler does: they ignore cancellation and finish their work whatever the caller
 * does. (The testing package's backend stops at a cancel, which hides the bug under test.)
 */
export interface DedupTestServer {
  address: string;
  /** Handler runs of Charge, and of ListItems. */
  readonly runs: { charge: number; list: number };
  /** What the next Charge run does: wait, fail, or hold until `releaseHeld`. */
  charge: { delayMs?: number; hold?: boolean; fail?: grpc.ServerErrorResponse };
  /** How many messages ListItems streams (with `intervalMs` between them). */
  list: { messages: number; intervalMs?: number; payloadBytes?: number };
  /** Lets every held Charge run finish. */
  releaseHeld(): void;
  close(): void;
}

/** Starts a {@link DedupTestServer} on 127.0.0.1:0 with the dedup interceptor. */
export async function startDedupTestServer(
  options: DedupOptions = {},
  serverOptions: grpc.ServerOptions = {},
): Promise<DedupTestServer> {
  const server = new grpc.Server({
    ...serverOptions,
    interceptors: [createDedupInterceptor(options), ...(serverOptions.interceptors ?? [])],
  });
  const held = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  const state: DedupTestServer = {
    address: '',
    runs: { charge: 0, list: 0 },
    charge: {},
    list: { messages: 3 },
    releaseHeld() {
      for (const release of held) release();
      held.clear();
    },
    close() {
      state.releaseHeld();
      for (const timer of timers) clearTimeout(timer);
      server.forceShutdown();
    },
  };
  server.addService(testServiceDefinition(), {
    async Charge(
      call: grpc.ServerUnaryCall<{ account: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      const run = ++state.runs.charge;
      const { delayMs, hold, fail } = state.charge;
      if (delayMs) await sleep(delayMs);
      if (hold) await new Promise<void>((resolve) => held.add(resolve));
      if (fail) return callback(fail);
      callback(null, { chargeId: `charge-${run}`, backend: call.request.account });
    },
    async ListItems(call: grpc.ServerWritableStream<{ prefix: string }, unknown>) {
      state.runs.list++;
      const { messages, intervalMs, payloadBytes } = state.list;
      for (let seq = 0; seq < messages; seq++) {
        if (seq > 0 && intervalMs) await sleep(intervalMs);
        const payload = Buffer.alloc(payloadBytes ?? 0, 0x61);
        call.write({ id: `${call.request.prefix}${seq}`, seq, payload });
      }
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  state.address = `127.0.0.1:${port}`;
  return state;
}
