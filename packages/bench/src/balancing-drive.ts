import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { createResilientClient, type ResilientConfig } from '@grpc-resilience/channel';
import {
  callUnary,
  createTestClient,
  testServiceClient,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { startBalancingBackend, type BalancingBackend } from './balancing-backends';
import { closedLoop } from './load-loops';
import { cpuMicros, percentile } from './measure';

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
  /** Calls per second the client completed: what the machine served. */
  callsPerS: number;
  /**
   * The client process's CPU over the row's wall time, %: near 100, the client's own event
   * loop, not the backends, sets the pace, and its queue is in every latency it measures.
   */
  clientCpuPct: number;
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

/** What one closed-loop run measured: a row without its labels. */
export type Driven = Omit<BalancingRow, 'scenario' | 'config' | 'target' | 'met'>;

export const SERVICE = 'orders';

/**
 * Said in every row's scenario: what the backends send the balancer. Every backend process
 * puts the layer's load report interceptor first (`balancing-backend-process.ts`).
 */
export const REPORTING = 'backends report server time (layer server kit)';
export const IN_FLIGHT = 64;

/** The layer with only balancing on (retry and breaker off), so that only balancing differs. */
export const layer = (loadBalancing: object): ResilientConfig => ({
  loadBalancing,
  retry: false,
  breaker: false,
  keepalive: { server: 'grpc-resilience' },
});

/** raw grpc-js with its round_robin, or the layer's factory; both over the same addresses. */
export function clientFor(
  kind: 'raw' | 'layer',
  addresses: string[],
  config?: ResilientConfig,
): TestServiceClient {
  if (kind === 'raw') {
    return createTestClient(`ipv4:${addresses.join(',')}`, {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    });
  }
  return createResilientClient(testServiceClient(), addresses, config) as TestServiceClient;
}

/** `calls` GetItem calls, IN_FLIGHT at a time; each outcome checked for OK and a backend name. */
export async function drive(
  client: TestServiceClient,
  calls: number,
  watched: Set<string>,
): Promise<Driven> {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const cpuSince = process.cpuUsage();
  const startedAt = performance.now();
  const outcomes = await closedLoop(calls, IN_FLIGHT, () =>
    callUnary<{ backend?: string }>(client, 'GetItem', { id: 'x' }, { timeoutMs: 5000 }),
  );
  const wallMs = performance.now() - startedAt;
  const clientCpuPct = (100 * cpuMicros(cpuSince)) / 1000 / wallMs;
  lag.disable();
  // The histogram counts the timer's own 1 ms resolution too.
  const clientLagP50Ms = Math.max(0, lag.percentile(50) / 1e6 - 1);
  return {
    ...summarize(outcomes, watched),
    callsPerS: (1000 * calls) / wallMs,
    clientCpuPct,
    clientLagP50Ms,
  };
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
export async function withBackends<T>(
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
export async function warmUp(client: TestServiceClient, settleMs: number): Promise<void> {
  const until = Date.now() + settleMs;
  do await drive(client, 500, new Set());
  while (Date.now() < until);
}
