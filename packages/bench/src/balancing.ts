import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { createResilientClient, type ResilientConfig } from '@grpc-resilience/channel';
import { DEFAULT_DECAY_MS } from '@grpc-resilience/load-balancer';
import {
  callUnary,
  createTestClient,
  testServiceClient,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { startBalancingBackend, type BalancingBackend } from './balancing-backends';
import { closedLoop } from './load-loops';
import { percentile } from './measure';
import { table } from './report';

/** One client configuration through one of issue 14's balancing rows. */
export interface BalancingRow {
  scenario: string;
  /** What the client really ran. */
  config: string;
  calls: number;
  /** Calls not OK, or whose reply names no backend. */
  unexpected: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of calls the row's watched backends served, %. */
  watchedSharePct: number;
  /**
   * The client's event-loop delay while the row ran, p50 ms: it is in every latency the
   * balancer sees, so it hides any backend difference smaller than itself.
   */
  clientLagP50Ms: number;
  /** p50 of the calls the watched backends served, and of the others', ms (0: none). */
  watchedP50Ms: number;
  othersP50Ms: number;
  target: string;
  met?: boolean;
}

const SERVICE = 'orders';
const FAST_MS = 2;
const SLOW_MS = 20;
const IN_FLIGHT = 64;

const layer = (loadBalancing: object): ResilientConfig => ({
  loadBalancing,
  retry: false,
  breaker: false,
  keepalive: { server: 'grpc-resilience' },
});

/** raw grpc-js with its round_robin, or the layer's factory; both over the same addresses. */
function clientFor(kind: string, addresses: string[], config?: ResilientConfig): TestServiceClient {
  if (kind === 'raw') {
    return createTestClient(`ipv4:${addresses.join(',')}`, {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    });
  }
  return createResilientClient(testServiceClient(), addresses, config) as TestServiceClient;
}

/** `calls` GetItem calls, IN_FLIGHT at a time; each outcome checked for OK and a backend name. */
async function drive(client: TestServiceClient, calls: number, watched: Set<string>) {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const outcomes = await closedLoop(calls, IN_FLIGHT, () =>
    callUnary<{ backend?: string }>(client, 'GetItem', { id: 'x' }, { timeoutMs: 5000 }),
  );
  lag.disable();
  // The histogram counts the timer's own 1 ms resolution too.
  const clientLagP50Ms = Math.max(0, lag.percentile(50) / 1e6 - 1);
  return { ...summarize(outcomes, watched), clientLagP50Ms };
}

function summarize(outcomes: CallOutcome<{ backend?: string }>[], watched: Set<string>) {
  let unexpected = 0;
  // What a balancer could see: how long each side's calls took here.
  const onWatched: number[] = [];
  const onOthers: number[] = [];
  for (const outcome of outcomes) {
    const backend = outcome.response?.backend;
    if (outcome.status.code !== grpc.status.OK || backend === undefined) unexpected++;
    else (watched.has(backend) ? onWatched : onOthers).push(outcome.durationMs);
  }
  const durations = outcomes.map((o) => o.durationMs);
  return {
    calls: outcomes.length,
    unexpected,
    p50Ms: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    watchedSharePct: (100 * onWatched.length) / outcomes.length,
    watchedP50Ms: percentile(onWatched, 50),
    othersP50Ms: percentile(onOthers, 50),
  };
}

/**
 * Runs `run` against one backend process per delay, named b0, b1, ...: in their own processes,
 * so that the latency each shows the balancer is its own, not the client's event-loop lag.
 */
async function withBackends<T>(
  delays: number[],
  run: (backends: BalancingBackend[]) => Promise<T>,
): Promise<T> {
  const backends = await Promise.all(
    delays.map((delayMs, i) => startBalancingBackend(`b${i}`, delayMs, SERVICE)),
  );
  try {
    return await run(backends);
  } finally {
    await Promise.all(backends.map((backend) => backend.stop()));
  }
}

/**
 * Load until `settleMs` have passed (500 calls at least). p2c's latency estimates take any
 * slower observation at once and let it go with the layer's decay time (10 s): the first calls'
 * peaks (connections, JIT) would otherwise weigh on the whole of a short measurement.
 */
async function warmUp(client: TestServiceClient, settleMs: number): Promise<void> {
  const until = Date.now() + settleMs;
  do await drive(client, 500, new Set());
  while (Date.now() < until);
}

/** Row 1: one backend 10x slower; p2c and round-robin (the layer's and raw grpc-js's). */
async function slowBackendRows(calls: number, settleMs: number): Promise<BalancingRow[]> {
  const scenario = `3 backends, b0 ${SLOW_MS} ms, others ${FAST_MS} ms, ${IN_FLIGHT} in flight, after ${settleMs / 1000} s of load`;
  const rows: BalancingRow[] = [];
  const healthy = await withBackends([FAST_MS, FAST_MS, FAST_MS], async (backends) => {
    const client = clientFor(
      'layer',
      backends.map((b) => b.address),
      layer({}),
    );
    try {
      await warmUp(client, settleMs);
      return await drive(client, calls, new Set(['b0']));
    } finally {
      client.close();
    }
  });
  rows.push({
    scenario: `3 backends, all ${FAST_MS} ms (reference), after ${settleMs / 1000} s of load`,
    config: 'layer p2c',
    ...healthy,
    target: 'reference',
  });
  await withBackends([SLOW_MS, FAST_MS, FAST_MS], async (backends) => {
    const addresses = backends.map((b) => b.address);
    for (const [config, client] of [
      ['layer p2c (default)', clientFor('layer', addresses, layer({}))],
      ['layer round_robin', clientFor('layer', addresses, layer({ policy: 'round_robin' }))],
      ['raw grpc-js round_robin', clientFor('raw', addresses)],
    ] as const) {
      const isP2c = config.startsWith('layer p2c');
      try {
        // round_robin keeps no estimate to settle: 500 calls warm its connections.
        await warmUp(client, isP2c ? settleMs : 0);
        const result = await drive(client, calls, new Set(['b0']));
        rows.push({
          scenario,
          config,
          ...result,
          target: isP2c ? `b0 < 5%, p99 <= 1.5x ${healthy.p99Ms.toFixed(1)} ms` : 'contrast',
          met: isP2c
            ? result.unexpected === 0 &&
              result.watchedSharePct < 5 &&
              result.p99Ms <= 1.5 * healthy.p99Ms
            : undefined,
        });
      } finally {
        client.close();
      }
    }
  });
  return rows;
}

/** Row 2: a backend restarts on its port and joins cold while load runs. */
async function coldJoinRow(calls: number): Promise<BalancingRow> {
  return withBackends([FAST_MS, FAST_MS, FAST_MS], async (backends) => {
    const client = clientFor(
      'layer',
      backends.map((b) => b.address),
      layer({ slowStartMs: 3000 }),
    );
    try {
      const before = await drive(client, calls, new Set());
      const victim = backends[2];
      await victim.stop();
      await drive(client, 500, new Set()); // the others carry it while it is down
      backends[2] = await startBalancingBackend('b2', FAST_MS, SERVICE, victim.port);
      const during = await drive(client, calls, new Set(['b2']));
      return {
        scenario: 'b2 restarts and joins cold (slow start 3 s)',
        config: 'layer p2c, slowStartMs 3000',
        ...during,
        target: `0 errors, p99 <= 2x ${before.p99Ms.toFixed(1)} ms`,
        met: during.unexpected === 0 && during.p99Ms <= 2 * before.p99Ms,
      };
    } finally {
      client.close();
    }
  });
}

/** Row 3: 2 of 3 NOT_SERVING by health; calls to them counted from 1 s after the change. */
async function notServingRows(calls: number): Promise<BalancingRow[]> {
  const rows: BalancingRow[] = [];
  for (const panicThreshold of [0, 0.5]) {
    const row = await withBackends([FAST_MS, FAST_MS, FAST_MS], async (backends) => {
      const client = clientFor(
        'layer',
        backends.map((b) => b.address),
        layer({ healthCheck: { serviceName: SERVICE }, panicThreshold }),
      );
      try {
        await drive(client, 500, new Set());
        await Promise.all([
          backends[0].setHealth('NOT_SERVING'),
          backends[1].setHealth('NOT_SERVING'),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return await drive(client, calls, new Set(['b0', 'b1']));
      } finally {
        client.close();
      }
    });
    rows.push({
      scenario: '2 of 3 NOT_SERVING (counted from 1 s after)',
      config: `layer p2c, healthCheck, panicThreshold ${panicThreshold}`,
      ...row,
      target: panicThreshold === 0 ? '0% to b0+b1' : 'panic: all three serve',
      met:
        row.unexpected === 0 &&
        (panicThreshold === 0 ? row.watchedSharePct === 0 : row.watchedSharePct > 33),
    });
  }
  return rows;
}

/** Issue 14's balancing table: every row labelled with the config it ran. */
export async function runBalancing(quick: boolean): Promise<BalancingRow[]> {
  const calls = quick ? 2000 : 10_000;
  // One decay time of the layer's default p2c estimate when quick, three (e^-3: 5% of a
  // warm-up peak left) in the full run.
  const settleMs = (quick ? 1 : 3) * DEFAULT_DECAY_MS;
  return [
    ...(await slowBackendRows(calls, settleMs)),
    await coldJoinRow(calls),
    ...(await notServingRows(quick ? 1000 : 4000)),
  ];
}

export function balancingTable(rows: BalancingRow[]): string {
  return table(
    [
      'scenario',
      'config',
      'calls',
      'unexpected',
      'p50 ms',
      'p99 ms',
      'watched %',
      'p50 ms watched / others',
      'client lag p50 ms',
      'target',
      'met',
    ],
    rows.map((r) => [
      r.scenario,
      r.config,
      r.calls,
      r.unexpected,
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      r.watchedSharePct.toFixed(1),
      `${r.watchedP50Ms.toFixed(1)} / ${r.othersP50Ms.toFixed(1)}`,
      r.clientLagP50Ms.toFixed(1),
      r.target,
      r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ]),
  );
}
