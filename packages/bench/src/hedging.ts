import * as grpc from '@grpc/grpc-js';
import { createResilientClient, type ResilientConfig } from '@grpc-resilience/channel';
import {
  callUnary,
  testServiceClient,
  testServiceDefinition,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { percentile } from './measure';
import { table } from './report';
import { countStatuses, statusesDelivered } from './status-count';

/** One client configuration through issue 13's hedging row. */
export interface HedgingRow {
  scenario: string;
  client: string;
  /** What the client really ran. */
  config: string;
  calls: number;
  succeeded: number;
  /** Calls whose outcome nothing explains: not OK, a wrong reply, a status delivered twice or never. */
  unexpected: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * Attempts the servers received per call, minus 1, in %, over the client's whole run (warm-up
   * included): what hedging adds, and what the layer bounds by construction at `maxExtraLoad`.
   */
  extraAttemptsPct: number;
  /**
   * The same over the measured calls alone. It may exceed the whole run's figure by what the
   * hedge bucket had banked when they began (at most 10 hedges; about 2 here).
   */
  measuredExtraPct: number;
  /** Attempts the servers made slow (every 20th each received). */
  slowAttempts: number;
  /** Slow attempts the client cancelled before their answer (a hedge won). */
  cancelledSlow: number;
  target: string;
  met: boolean;
}

const TestService = testServiceClient();
const SLOW_EVERY = 20;
const SLOW_MS = 200;
const FAST_MS = 1;
const BACKENDS = 3;
const IN_FLIGHT = 4;
const WARM_UP_CALLS = 100;
const CALL_DEADLINE_MS = 2000;
const TARGET = 'p99 cut >= 5x vs hedging off, extra attempts <= 5% (whole run)';
const SCENARIO = `1 call in ${SLOW_EVERY} takes ${SLOW_MS} ms (others ${FAST_MS} ms)`;

/** A server whose every 20th GetItem attempt takes 200 ms, the others 1 ms; it counts them. */
interface SlowTailServer {
  address: string;
  attempts: number;
  slow: number;
  cancelledSlow: number;
  server: grpc.Server;
}

async function startSlowTailServer(name: string): Promise<SlowTailServer> {
  const server = new grpc.Server();
  const state = { address: '', attempts: 0, slow: 0, cancelledSlow: 0, server };
  const GetItem = (
    call: grpc.ServerUnaryCall<{ id: string }, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ): void => {
    const slow = ++state.attempts % SLOW_EVERY === 0;
    if (slow) state.slow++;
    let answered = false;
    const timer = setTimeout(
      () => {
        answered = true;
        callback(null, { id: call.request.id, backend: name });
      },
      slow ? SLOW_MS : FAST_MS,
    );
    call.on('cancelled', () => {
      clearTimeout(timer);
      if (slow && !answered) state.cancelledSlow++;
    });
  };
  server.addService(testServiceDefinition(), { GetItem } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  state.address = `127.0.0.1:${port}`;
  return state;
}

const CLIENTS: { client: string; config: string; layer: ResilientConfig }[] = [
  {
    client: 'grpc-resilience, hedging off',
    config: `createResilientClient(TestService, [${BACKENDS} addresses]), every default (hedging is off by default)`,
    layer: {},
  },
  {
    client: 'grpc-resilience, hedging on',
    config:
      `createResilientClient(TestService, [${BACKENDS} addresses], { retry: { hedging: true } }): ` +
      'every other default; hedging defaults: p95 of the method, floor 10 ms, cap 1000 ms, ' +
      'warm-up 50 successes, at most 5% extra attempts',
    layer: { retry: { hedging: true } },
  },
];

/** Makes `count` GetItem calls, `IN_FLIGHT` at a time; returns each call's duration (ms). */
async function closedLoop(
  client: TestServiceClient,
  count: number,
  row: HedgingRow | undefined,
): Promise<number[]> {
  const durations: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const id = `c${next++}`;
      const outcome = await callUnary(client, 'GetItem', { id }, { timeoutMs: CALL_DEADLINE_MS });
      durations.push(outcome.durationMs);
      if (row === undefined) continue;
      row.calls++;
      if (outcome.status.code === grpc.status.OK && outcome.response?.id === id) row.succeeded++;
      else row.unexpected++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return durations;
}

/**
 * Issue 13's hedging row: the same traffic through the layer's default stack with hedging off
 * and on, against 3 servers each making every 20th attempt it receives take 200 ms. After a
 * warm-up of 100 calls (not measured: connections and the latency window), `calls` calls, 4 in
 * flight; every call's outcome is checked. The hedging-on row is met when its p99 is at least
 * 5x below the off row's and the servers received at most 5% more attempts than calls over the
 * client's whole run: the layer caps hedges at 5% of calls from the client's first call, so a
 * window that starts later may see up to what the bucket banked before it on top.
 */
export async function runHedging(calls: number): Promise<HedgingRow[]> {
  const rows: HedgingRow[] = [];
  for (const { client: name, config, layer } of CLIENTS) {
    const servers = await Promise.all(
      Array.from({ length: BACKENDS }, (_, i) => startSlowTailServer(`h${i}`)),
    );
    const client = createResilientClient(
      TestService,
      servers.map((s) => s.address),
      { ...layer, interceptors: [countStatuses] },
    );
    try {
      await closedLoop(client, WARM_UP_CALLS, undefined);
      const warmUpAttempts = servers.reduce((sum, s) => sum + s.attempts, 0);
      for (const s of servers) Object.assign(s, { attempts: 0, slow: 0, cancelledSlow: 0 });
      const row: HedgingRow = {
        scenario: SCENARIO,
        client: name,
        config,
        calls: 0,
        succeeded: 0,
        unexpected: 0,
        p50Ms: 0,
        p99Ms: 0,
        maxMs: 0,
        extraAttemptsPct: 0,
        measuredExtraPct: 0,
        slowAttempts: 0,
        cancelledSlow: 0,
        target: TARGET,
        met: false,
      };
      const before = statusesDelivered();
      const durations = await closedLoop(client, calls, row);
      const delivered = statusesDelivered() - before;
      if (delivered !== row.calls) row.unexpected += Math.abs(row.calls - delivered);
      const attempts = servers.reduce((sum, s) => sum + s.attempts, 0);
      row.p50Ms = percentile(durations, 50);
      row.p99Ms = percentile(durations, 99);
      row.maxMs = Math.max(...durations);
      const allCalls = WARM_UP_CALLS + row.calls;
      row.extraAttemptsPct = (100 * (warmUpAttempts + attempts - allCalls)) / allCalls;
      row.measuredExtraPct = (100 * (attempts - row.calls)) / row.calls;
      row.slowAttempts = servers.reduce((sum, s) => sum + s.slow, 0);
      row.cancelledSlow = servers.reduce((sum, s) => sum + s.cancelledSlow, 0);
      rows.push(row);
    } finally {
      client.close();
      for (const s of servers) s.server.forceShutdown();
    }
  }
  const [off, on] = rows;
  off.met = off.unexpected === 0; // the reference: judged only on its outcomes
  on.met = on.unexpected === 0 && off.p99Ms >= 5 * on.p99Ms && on.extraAttemptsPct <= 5;
  return rows;
}

/** The rows as a table, then each client's config in words. */
export function hedgingTable(rows: HedgingRow[]): string {
  const off = rows[0];
  const body = table(
    [
      'hedging',
      'client',
      'calls',
      'ok %',
      'unexpected',
      'p50 ms',
      'p99 ms',
      'max ms',
      'p99 cut',
      'extra attempts % (measured calls)',
      'slow attempts (cancelled)',
      'target',
      'met',
    ],
    rows.map((r) => [
      r.scenario,
      r.client,
      r.calls,
      ((100 * r.succeeded) / r.calls).toFixed(1),
      r.unexpected,
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      r.maxMs.toFixed(1),
      r === off ? '-' : `${(off.p99Ms / r.p99Ms).toFixed(1)}x`,
      `${r.extraAttemptsPct.toFixed(2)} (${r.measuredExtraPct.toFixed(2)})`,
      `${r.slowAttempts} (${r.cancelledSlow})`,
      r === off ? '(reference)' : r.target,
      r.met ? 'yes' : 'NO',
    ]),
  );
  const configs = rows.map((r) => `  ${r.client}: ${r.config}`).join('\n');
  const note =
    `extra attempts: over the whole run (${WARM_UP_CALLS} warm-up calls included), the quantity ` +
    'the layer bounds; in brackets over the measured calls alone';
  return `${body}\nconfigs:\n${configs}\n${note}`;
}
