import * as grpc from '@grpc/grpc-js';
import { circuitBreakerOf, createResilientClient } from '@grpc-resilience/channel';
import { callUnary, testServiceClient, type TestServiceClient } from '@grpc-resilience/testing';
import { Cluster } from './cluster';
import type { PhaseResult } from './report';
import { PhaseStats } from './stats';

/** One phase: what goes wrong at its start, and what is mended at its end. */
interface Phase {
  name: string;
  begin?: (cluster: Cluster) => void | Promise<void>;
  end?: (cluster: Cluster) => void | Promise<void>;
}

const PHASES: Phase[] = [
  { name: 'healthy' },
  { name: 'backend killed', begin: (c) => c.kill(2), end: (c) => c.restart(2) },
  {
    name: 'blackholed',
    begin: (c) => c.proxies[1].freeze(),
    // A long blackhole kills the TCP connections in real networks too: their held bytes are lost.
    end: async (c) => {
      await c.proxies[1].reset();
      await c.proxies[1].pass();
    },
  },
  {
    name: 'error storm',
    begin: (c) => c.backends.forEach((b) => (b.behaviour = { failCode: grpc.status.UNAVAILABLE })),
    end: (c) => c.backends.forEach((b) => (b.behaviour = {})),
  },
  {
    name: 'slow backend',
    begin: (c) => void (c.backends[1].behaviour = { delayMs: 1500 }),
    end: (c) => void (c.backends[1].behaviour = {}),
  },
  { name: 'recovery' },
];

export interface DemoOptions {
  /** Length of each phase, ms. Default 5000 (30 s in all). */
  phaseMs?: number;
  /** Calls per second from each client. Default 100. */
  callsPerSecond?: number;
  /** The deadline both clients give every call, ms. Default 1000. */
  deadlineMs?: number;
  /** Called about 4 times a second with a one-line progress report. */
  onProgress?: (line: string) => void;
  /** Called when a phase ends. */
  onPhaseEnd?: (result: PhaseResult) => void;
}

/** Runs the phases against two identical clusters, one through the layer, one through plain grpc-js. */
export async function runDemo(options: DemoOptions = {}): Promise<PhaseResult[]> {
  const {
    phaseMs = 5000,
    callsPerSecond = 100,
    deadlineMs = 1000,
    onProgress,
    onPhaseEnd,
  } = options;
  const TestService = testServiceClient();
  const [layerCluster, plainCluster] = [await Cluster.start(), await Cluster.start()];
  const reconnect = {
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1000,
  };
  const layer = createResilientClient(TestService, layerCluster.addresses, {
    deadline: { defaultMs: deadlineMs },
    retry: { initialBackoffMs: 20, maxBackoffMs: 200 },
    breaker: { halfOpenAfterMs: 500 },
    // Scaled for a 30 s demo: find a blackholed peer in 750 ms, a silent one in 500 ms.
    keepalive: {
      keepaliveTimeMs: 500,
      keepaliveTimeoutMs: 250,
      connectTimeoutMs: 500,
      server: 'grpc-js',
    },
    loadBalancing: {
      ejection: { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 4000 },
    },
    channelOptions: reconnect,
  });
  // What careful hand-written code does: round-robin over the same backends, the same deadline.
  const plain = new TestService(
    `ipv4:${plainCluster.addresses.join(',')}`,
    grpc.credentials.createInsecure(),
    {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      ...reconnect,
    },
  );

  const results: PhaseResult[] = [];
  let current: PhaseResult | undefined;
  circuitBreakerOf(layer)?.onStateChange(({ to }) => {
    if (to === 'open' && current) current.layer.breakerOpens++;
  });

  const inFlight = new Set<Promise<void>>();
  const fire = (
    client: TestServiceClient,
    pick: (r: PhaseResult) => PhaseStats,
    withDeadline: boolean,
  ) => {
    const result = current!;
    const started = performance.now();
    const promise = callUnary<{ backend?: string }>(
      client,
      'GetItem',
      { id: 'x' },
      withDeadline ? { timeoutMs: deadlineMs } : {},
    ).then((outcome) => {
      const attempts = Number(outcome.status.metadata?.get('grpc-resilience-attempts')[0] ?? 1);
      pick(result).record(
        outcome.status.code,
        performance.now() - started,
        attempts,
        outcome.response?.backend,
        deadlineMs,
      );
      inFlight.delete(promise);
    });
    inFlight.add(promise);
  };

  const startedAt = performance.now();
  try {
    for (const [index, phase] of PHASES.entries()) {
      current = { name: phase.name, layer: new PhaseStats(), plain: new PhaseStats() };
      const serverCallsAt = [layerCluster.serverCalls, plainCluster.serverCalls];
      await Promise.all([phase.begin?.(layerCluster), phase.begin?.(plainCluster)]);
      const phaseStart = performance.now();
      let sent = 0;
      let lastProgress = 0;
      while (performance.now() - phaseStart < phaseMs) {
        // Open loop at a steady rate: calls start on schedule whatever the others are doing.
        const due = Math.floor(((performance.now() - phaseStart) / 1000) * callsPerSecond);
        for (; sent < due; sent++) {
          fire(layer, (r) => r.layer, false);
          fire(plain, (r) => r.plain, true);
        }
        if (onProgress && performance.now() - lastProgress > 250) {
          lastProgress = performance.now();
          const elapsed = ((performance.now() - startedAt) / 1000).toFixed(1);
          onProgress(
            `[${index + 1}/${PHASES.length} ${phase.name.padEnd(14)} ${elapsed.padStart(5)} s] ` +
              `grpc-resilience ${current.layer.successPercent.toFixed(1).padStart(5)}% ok  ` +
              `plain grpc-js ${current.plain.successPercent.toFixed(1).padStart(5)}% ok`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await Promise.all([...inFlight]); // every call of the phase ends within its deadline
      await Promise.all([phase.end?.(layerCluster), phase.end?.(plainCluster)]);
      current.layer.serverCalls = layerCluster.serverCalls - serverCallsAt[0];
      current.plain.serverCalls = plainCluster.serverCalls - serverCallsAt[1];
      results.push(current);
      onPhaseEnd?.(current);
    }
  } finally {
    layer.close();
    plain.close();
    await Promise.all([layerCluster.close(), plainCluster.close()]);
  }
  return results;
}
