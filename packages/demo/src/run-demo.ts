import * as grpc from '@grpc/grpc-js';
import { createResilientClient } from '@grpc-resilience/channel';
import { createServerMetrics } from '@grpc-resilience/metrics';
import { callUnary, testServiceClient, type TestServiceClient } from '@grpc-resilience/testing';
import { Cluster } from './cluster';
import { DEFAULT_CALL_DEADLINE_MS, LAYER_CONFIG, plainChannelOptions } from './configs';
import { LayerFigures } from './layer-figures';
import {
  DEFAULT_METRICS_PORT,
  startMetricsEndpoint,
  type MetricsEndpoint,
} from './metrics-endpoint';
import { demoPhases, type Phase } from './phases';
import type { PhaseResult } from './report';
import { PhaseStats, Timeline } from './stats';

export interface DemoOptions {
  /** Length of each phase but the last, ms. Default 5000. */
  phaseMs?: number;
  /**
   * Length of the recovery phase, ms. Default 35000: long enough to show the breaker's longest
   * wait between probes (30 s) would end in it, and kept so runs compare with the earlier ones.
   */
  recoveryMs?: number;
  /** Calls per second from each client. Default 100. */
  callsPerSecond?: number;
  /** The deadline both clients give every call, ms. Default 1000. */
  deadlineMs?: number;
  /** Called as a phase starts. */
  onPhaseStart?: (phase: Phase, index: number, count: number) => void;
  /** Called about once a second with a one-line report of the phase so far. */
  onTick?: (line: string, phase: Phase, elapsedInPhaseMs: number) => void;
  /**
   * Called when a phase ends, its figures collected; the next phase starts once a returned
   * promise settles (a scrape of `/metrics` then shows exactly the totals the phase ended with).
   */
  onPhaseEnd?: (result: PhaseResult) => void | Promise<void>;
  /**
   * Port of the `/metrics` endpoint on 127.0.0.1, served for the whole run. Default 9464; 0
   * takes any free port, and a port in use falls back to a free one.
   */
  metricsPort?: number;
  /** Called once the endpoint listens, before the first phase: where to scrape. */
  onMetricsEndpoint?: (endpoint: Pick<MetricsEndpoint, 'url' | 'busyPort'>) => void;
}

/** The whole run: each phase, and both clients' success per second from the first call. */
export interface DemoRun {
  phases: PhaseResult[];
  timeline: { layer: Timeline; plain: Timeline };
  /** Where the run served its metrics (closed when the run ended). */
  metricsUrl: string;
}

const PROBE_ID = 'item-42';
const BACKENDS = new Set(['b0', 'b1', 'b2']);

/**
 * Runs the phases against two identical clusters, one through the layer, one through plain
 * grpc-js, with the layer's metrics served at `/metrics` for the whole run.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoRun> {
  // Registered before any client or server is built: the layer binds its instruments then.
  const endpoint = await startMetricsEndpoint(options.metricsPort ?? DEFAULT_METRICS_PORT);
  try {
    options.onMetricsEndpoint?.({ url: endpoint.url, busyPort: endpoint.busyPort });
    return { ...(await runPhases(options, endpoint)), metricsUrl: endpoint.url };
  } finally {
    await endpoint.close();
  }
}

async function runPhases(
  options: DemoOptions,
  endpoint: MetricsEndpoint,
): Promise<Omit<DemoRun, 'metricsUrl'>> {
  const {
    phaseMs = 5000,
    recoveryMs = 35_000,
    callsPerSecond = 100,
    deadlineMs = DEFAULT_CALL_DEADLINE_MS,
    onPhaseStart,
    onTick,
    onPhaseEnd,
  } = options;
  const phases = demoPhases(phaseMs, recoveryMs);
  const TestService = testServiceClient();
  // The layer's cluster serves through the layer's server metrics, and nothing else of its
  // server kit, so both clusters' backends behave alike; plain grpc-js has no metrics at all.
  const serverMetrics = createServerMetrics();
  if (!serverMetrics) throw new Error("the demo's MeterProvider is not registered");
  const [layerCluster, plainCluster] = [
    await Cluster.start(3, { interceptors: [serverMetrics.interceptor] }),
    await Cluster.start(),
  ];
  // LAYER_CONFIG says nothing of metrics: the layer records into the registered provider.
  const layer = createResilientClient(TestService, layerCluster.addresses, LAYER_CONFIG);
  const plain = new TestService(
    `ipv4:${plainCluster.addresses.join(',')}`,
    grpc.credentials.createInsecure(),
    plainChannelOptions(),
  );

  const results: PhaseResult[] = [];
  const timeline = { layer: new Timeline(), plain: new Timeline() };
  let current: PhaseResult | undefined;
  // When the current phase's traffic started, ms from the start of the run.
  let currentStartMs = 0;
  const startedAt = performance.now();
  const inFlight = new Set<Promise<void>>();
  const fire = (client: TestServiceClient, side: 'layer' | 'plain') => {
    const stats = current![side];
    const phaseStartMs = currentStartMs;
    const started = performance.now();
    const promise = callUnary<{ id?: string; backend?: string }>(
      client,
      'GetItem',
      { id: PROBE_ID },
      { timeoutMs: deadlineMs },
    ).then((outcome) => {
      // A success counts only with the reply to this request from one of the backends.
      const { response, status } = outcome;
      const correct =
        response?.id === PROBE_ID &&
        response.backend !== undefined &&
        BACKENDS.has(response.backend);
      // The layer's trailers (packages/status): attempts made, and why it refused a call itself.
      const attempts = Number(status.metadata?.get('grpc-resilience-attempts')[0] ?? 1);
      const reason = status.metadata?.get('grpc-resilience-reason')[0]?.toString();
      stats.record(
        status.code,
        performance.now() - started,
        attempts,
        response?.backend,
        deadlineMs,
        correct,
        reason,
      );
      timeline[side].record(
        phaseStartMs,
        started - startedAt - phaseStartMs,
        status.code === grpc.status.OK && correct,
      );
      inFlight.delete(promise);
    });
    inFlight.add(promise);
  };

  try {
    // Cumulative totals at the end of the previous phase: a phase's figures are the increase.
    let totals = await LayerFigures.collect(endpoint.exporter);
    for (const [index, phase] of phases.entries()) {
      current = {
        name: phase.name,
        fault: phase.fault,
        startMs: performance.now() - startedAt,
        durationMs: phase.durationMs,
        layer: new PhaseStats(),
        plain: new PhaseStats(),
        layerMetrics: LayerFigures.NONE,
      };
      onPhaseStart?.(phase, index, phases.length);
      const serverCallsAt = [layerCluster.serverCalls, plainCluster.serverCalls];
      await Promise.all([phase.begin?.(layerCluster), phase.begin?.(plainCluster)]);
      const phaseStart = performance.now();
      current.startMs = currentStartMs = phaseStart - startedAt;
      let sent = 0;
      let lastTick = phaseStart;
      while (performance.now() - phaseStart < phase.durationMs) {
        // Open loop at a steady rate: calls start on schedule whatever the others are doing.
        const due = Math.floor(((performance.now() - phaseStart) / 1000) * callsPerSecond);
        for (; sent < due; sent++) {
          fire(layer, 'layer');
          fire(plain, 'plain');
        }
        if (onTick && performance.now() - lastTick >= 1000) {
          lastTick = performance.now();
          const elapsed = lastTick - phaseStart;
          onTick(
            `[${index + 1}/${phases.length} ${phase.name} ${(elapsed / 1000).toFixed(0)} s] ` +
              `grpc-resilience ${current.layer.successPercent.toFixed(1)}% ok, ` +
              `plain grpc-js ${current.plain.successPercent.toFixed(1)}% ok`,
            phase,
            elapsed,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await Promise.all([...inFlight]); // every call of the phase ends within its deadline
      await Promise.all([phase.end?.(layerCluster), phase.end?.(plainCluster)]);
      current.layer.serverCalls = layerCluster.serverCalls - serverCallsAt[0];
      current.plain.serverCalls = plainCluster.serverCalls - serverCallsAt[1];
      const now = await LayerFigures.collect(endpoint.exporter);
      current.layerMetrics = now.since(totals);
      totals = now;
      results.push(current);
      await onPhaseEnd?.(current);
    }
  } finally {
    layer.close();
    plain.close();
    await Promise.all([layerCluster.close(), plainCluster.close()]);
  }
  return { phases: results, timeline };
}
