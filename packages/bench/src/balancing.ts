import * as grpc from '@grpc/grpc-js';
import { createResilientClient, type ResilientConfig } from '@grpc-resilience/channel';
import {
  callUnary,
  createTestClient,
  startTestBackend,
  testServiceClient,
  type CallOutcome,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { HealthImplementation } from 'grpc-health-check';
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
  const outcomes = await closedLoop(calls, IN_FLIGHT, () =>
    callUnary<{ backend?: string }>(client, 'GetItem', { id: 'x' }, { timeoutMs: 5000 }),
  );
  return summarize(outcomes, watched);
}

function summarize(outcomes: CallOutcome<{ backend?: string }>[], watched: Set<string>) {
  let unexpected = 0;
  let onWatched = 0;
  for (const outcome of outcomes) {
    const backend = outcome.response?.backend;
    if (outcome.status.code !== grpc.status.OK || backend === undefined) unexpected++;
    else if (watched.has(backend)) onWatched++;
  }
  const durations = outcomes.map((o) => o.durationMs);
  return {
    calls: outcomes.length,
    unexpected,
    p50Ms: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    watchedSharePct: (100 * onWatched) / outcomes.length,
  };
}

async function withBackends<T>(
  delays: number[],
  run: (backends: TestBackend[], health: HealthImplementation[]) => Promise<T>,
): Promise<T> {
  const backends = await Promise.all(
    delays.map((delayMs, i) => startTestBackend({ name: `b${i}`, behaviour: { delayMs } })),
  );
  const health = backends.map((backend) => {
    const implementation = new HealthImplementation({ [SERVICE]: 'SERVING' });
    implementation.addToServer(backend.server);
    return implementation;
  });
  try {
    return await run(backends, health);
  } finally {
    for (const backend of backends) backend.kill();
  }
}

/** Row 1: one backend 10x slower; p2c and round-robin (the layer's and raw grpc-js's). */
async function slowBackendRows(calls: number): Promise<BalancingRow[]> {
  const scenario = `3 backends, b0 ${SLOW_MS} ms, others ${FAST_MS} ms, ${IN_FLIGHT} in flight`;
  const rows: BalancingRow[] = [];
  const healthy = await withBackends([FAST_MS, FAST_MS, FAST_MS], async (backends) => {
    const client = clientFor(
      'layer',
      backends.map((b) => b.address),
      layer({}),
    );
    try {
      await drive(client, 500, new Set());
      return await drive(client, calls, new Set(['b0']));
    } finally {
      client.close();
    }
  });
  rows.push({
    scenario: '3 backends, all 2 ms (reference)',
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
      try {
        await drive(client, 500, new Set());
        const result = await drive(client, calls, new Set(['b0']));
        const isP2c = config.startsWith('layer p2c');
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
      victim.kill();
      await drive(client, 500, new Set()); // the others carry it while it is down
      backends[2] = await startTestBackend({
        name: 'b2',
        port: victim.port,
        behaviour: { delayMs: FAST_MS },
      });
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
    const row = await withBackends([FAST_MS, FAST_MS, FAST_MS], async (backends, health) => {
      const client = clientFor(
        'layer',
        backends.map((b) => b.address),
        layer({ healthCheck: { serviceName: SERVICE }, panicThreshold }),
      );
      try {
        await drive(client, 500, new Set());
        health[0].setStatus(SERVICE, 'NOT_SERVING');
        health[1].setStatus(SERVICE, 'NOT_SERVING');
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
  return [
    ...(await slowBackendRows(calls)),
    await coldJoinRow(calls),
    ...(await notServingRows(quick ? 1000 : 4000)),
  ];
}

export function balancingTable(rows: BalancingRow[]): string {
  return table(
    ['scenario', 'config', 'calls', 'unexpected', 'p50 ms', 'p99 ms', 'watched %', 'target', 'met'],
    rows.map((r) => [
      r.scenario,
      r.config,
      r.calls,
      r.unexpected,
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      r.watchedSharePct.toFixed(1),
      r.target,
      r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ]),
  );
}
