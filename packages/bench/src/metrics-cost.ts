import * as grpc from '@grpc/grpc-js';
import { resilientOptions } from '@grpc-resilience/channel';
import {
  INSTRUMENTS,
  createClientMetrics,
  prometheusViews,
  type MetricsOptions,
} from '@grpc-resilience/metrics';
import { testServiceClient, type TestServiceClient } from '@grpc-resilience/testing';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { abbaOrder, cpuMicros, median } from './measure';
import { StubChannel } from './stub-channel';

/** One row: a variant's client CPU per call and what it adds to the stack without metrics. */
export interface MetricsCostRow {
  variant: string;
  /** Client CPU per call, µs: median over rounds. */
  cpuMicrosPerCall: number;
  /** Added over the same stack with metrics off, µs: median of per-round differences. */
  addedMicros: number;
  addedRange: [number, number];
}

const TestService = testServiceClient();
const request = { id: 'bench', value: 'v' };

type BenchClient = TestServiceClient & {
  GetItem(request: object, callback: (error: unknown) => void): grpc.Call;
};

/**
 * The issue-16 rows, in process on a stub channel (client-side JS only, as the in-process
 * table): the full default client stack with metrics off; the same with the metrics layer asked
 * for while no meter provider is registered (it must add nothing: no interceptor is added); and
 * with a real SDK MeterProvider whose reader is the Prometheus exporter (never scraped: what a
 * call pays is the recording), with every instrument and without the two size histograms.
 * Paired per round, ABBA order, like the in-process table.
 */
export async function runMetricsCost(
  rounds: number,
  callsPerRun: number,
): Promise<MetricsCostRow[]> {
  const { variants, provider } = metricsVariants();
  try {
    const [off, ...others] = variants;
    for (const v of variants) await sequential(v.client, callsPerRun); // warm up the JIT
    const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (let round = 0; round < rounds; round++) {
      const perRound = new Map<string, number[]>();
      for (const v of abbaOrder(off, others, round)) {
        global.gc?.();
        const since = process.cpuUsage();
        await sequential(v.client, callsPerRun);
        perRound.set(v.name, [...(perRound.get(v.name) ?? []), cpuMicros(since) / callsPerRun]);
      }
      for (const [name, values] of perRound) samples.get(name)!.push(median(values));
    }
    const offSamples = samples.get(off.name)!;
    return variants.map((v) => {
      const values = samples.get(v.name)!;
      const added = values.map((value, i) => value - offSamples[i]);
      return {
        variant: v.name,
        cpuMicrosPerCall: median(values),
        addedMicros: median(added),
        addedRange: [Math.min(...added), Math.max(...added)],
      };
    });
  } finally {
    for (const v of variants) v.client.close();
    await provider.shutdown();
  }
}

/** Names of the variants, in the order of the rows. */
export const METRICS_VARIANTS = [
  'metrics off',
  'metrics, no provider',
  'metrics on (SDK + Prometheus)',
  'metrics on, size histograms off',
] as const;

/** Every variant's client on one stub channel each, and the SDK provider they record into. */
function metricsVariants(only?: string) {
  const reply = TestService.service.GetItem.responseSerialize({
    id: 'bench',
    value: 'v',
    backend: 'stub',
  });
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter], views: prometheusViews() });
  const withMetrics = (options?: MetricsOptions) => {
    const stack = resilientOptions({ service: TestService.service });
    const metrics = options && createClientMetrics({ target: 'stub', ...options });
    if (!metrics) return stack;
    const interceptors = stack.interceptors ?? [];
    return {
      ...stack,
      interceptors: [metrics.callInterceptor, ...interceptors, metrics.attemptInterceptor],
    };
  };
  const sizes = [INSTRUMENTS.attemptSentBytes.name, INSTRUMENTS.attemptRcvdBytes.name];
  const metricsOf: Record<(typeof METRICS_VARIANTS)[number], MetricsOptions | undefined> = {
    'metrics off': undefined,
    'metrics, no provider': {},
    'metrics on (SDK + Prometheus)': { meterProvider: provider },
    // What a team that never charts message sizes pays: two SDK records fewer per attempt.
    'metrics on, size histograms off': { meterProvider: provider, disabledMetrics: sizes },
  };
  const variants = METRICS_VARIANTS.filter((name) => only === undefined || name === only).map(
    (name) => variant(name, withMetrics(metricsOf[name]), reply),
  );
  return { variants, provider };
}

/**
 * One variant alone in this process: `calls` calls after `warmup`, client CPU per call. Run
 * each variant in its own process to see its cost without the others' garbage and call sites
 * (interleaving them in one process inflates the difference): `node
 * packages/bench/dist/metrics-cost.js 'metrics on (SDK + Prometheus)' 20000 5000`.
 */
export async function runMetricsVariantAlone(
  name: string,
  calls: number,
  warmup: number,
): Promise<number> {
  const { variants, provider } = metricsVariants(name);
  if (variants.length !== 1) throw new Error(`variant is one of: ${METRICS_VARIANTS.join(', ')}`);
  const [{ client }] = variants;
  try {
    await sequential(client, warmup);
    global.gc?.();
    const since = process.cpuUsage();
    await sequential(client, calls);
    return cpuMicros(since) / calls;
  } finally {
    client.close();
    await provider.shutdown();
  }
}

if (require.main === module) {
  const [name = METRICS_VARIANTS[0], calls = '20000', warmup = '5000'] = process.argv.slice(2);
  void runMetricsVariantAlone(name, Number(calls), Number(warmup)).then(
    (micros) => console.log(`${name}\t${micros.toFixed(2)} µs/call`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

/** The rows as a Markdown table. */
export function metricsCostTable(rows: readonly MetricsCostRow[]): string {
  const lines = [
    '| client stack, in process | CPU µs/call | added vs metrics off, µs (range) |',
    '|---|---|---|',
  ];
  for (const row of rows) {
    const [low, high] = row.addedRange;
    lines.push(
      `| ${row.variant} | ${row.cpuMicrosPerCall.toFixed(1)} | ${row.addedMicros.toFixed(2)} (${low.toFixed(2)} to ${high.toFixed(2)}) |`,
    );
  }
  return lines.join('\n');
}

function variant(name: string, options: grpc.ClientOptions, reply: Buffer) {
  const client = new TestService('stub', grpc.credentials.createInsecure(), {
    ...options,
    channelOverride: new StubChannel(reply),
  }) as BenchClient;
  return { name, client };
}

/** `count` GetItem calls one after another. */
function sequential(client: BenchClient, count: number): Promise<void> {
  return new Promise((resolve) => {
    let left = count;
    const next = (): void => {
      if (--left < 0) resolve();
      else void client.GetItem(request, next);
    };
    next();
  });
}
