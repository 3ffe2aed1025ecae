import { spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { resilientOptions } from '@grpc-resilience/channel';
import {
  HistogramProducer,
  createClientMetrics,
  prometheusViews,
  type MetricsOptions,
} from '@grpc-resilience/metrics';
import { testServiceClient, type TestServiceClient } from '@grpc-resilience/testing';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { cpuMicros, median, percentile } from './measure';
import { StubChannel } from './stub-channel';

const TestService = testServiceClient();
const request = { id: 'bench', value: 'v' };

type BenchClient = TestServiceClient & {
  GetItem(
    request: object,
    callback: (error: grpc.ServiceError | null, reply?: { id?: string }) => void,
  ): grpc.Call;
};

/** The clients the metrics rows compare, each on a stub channel of its own. */
const VARIANTS = {
  'metrics off': 'full default client stack (resilientOptions), metrics: false',
  'metrics, no provider':
    'the same, metrics asked for while no meter provider is registered (adds no interceptor)',
  'metrics on (recommended)':
    'the same + the metrics interceptors; SDK MeterProvider whose reader is a PrometheusExporter (HTTP server not started) given a HistogramProducer (useFor the provider), prometheusViews()',
  'metrics on, SDK histograms':
    'the same, without the HistogramProducer: every histogram value recorded by the SDK',
} as const;

type VariantName = keyof typeof VARIANTS;

/**
 * The pairs measured, each in a process of its own: the measured client against the stack with
 * metrics off. The first is the A/A control (two identical clients), the noise floor of the
 * method; the SDK-histogram pair is there for contrast.
 */
export const METRICS_PAIRS: readonly { label: string; measured: VariantName }[] = [
  { label: 'A/A: metrics off, a second client', measured: 'metrics off' },
  { label: 'metrics asked for, no meter provider', measured: 'metrics, no provider' },
  {
    label: 'metrics on: PrometheusExporter + HistogramProducer',
    measured: 'metrics on (recommended)',
  },
  { label: 'metrics on, SDK histograms (no producer)', measured: 'metrics on, SDK histograms' },
];

/** One pair's row: client CPU per unary call, and what the measured client adds. */
export interface MetricsCostRow {
  pair: string;
  /** What the measured client ran (the baseline is always `metrics off`). */
  config: string;
  /** Processes × pairs of blocks × calls per block. */
  samples: string;
  /** Median client CPU per call, µs: the measured client's blocks, the baseline's. */
  measuredMicros: number;
  baselineMicros: number;
  /** Median of the per-pair differences (measured − baseline), µs per call, and its IQR. */
  addedMicros: number;
  addedIqr: [number, number];
  /** Mean of the per-pair differences: with the garbage collections the median leaves out. */
  addedMeanMicros: number;
  /** Each process's median difference, to show how far processes disagree. */
  perProcessMedians: number[];
}

/** How much to run: `npm run bench` uses {@link METRICS_PLANS}. */
export interface MetricsCostPlan {
  processes: number;
  pairs: number;
  blockCalls: number;
  warmupCalls: number;
}

export const METRICS_PLANS: Readonly<Record<'quick' | 'full', MetricsCostPlan>> = {
  quick: { processes: 1, pairs: 60, blockCalls: 300, warmupCalls: 3000 },
  full: { processes: 3, pairs: 200, blockCalls: 500, warmupCalls: 10_000 },
};

/**
 * Issue 16's rows, in process on a stub channel (client-side JS only). Each pair runs in a
 * process of its own holding two clients, the measured one and the stack with metrics off;
 * after both warm up, blocks of `blockCalls` sequential calls alternate between them (AB, then
 * BA) `pairs` times, and the figure is the median of the per-pair differences, with its
 * interquartile range. Alternating blocks share the machine's moment, so a loaded machine moves
 * both sides of a difference alike; the A/A pair shows what is left of the noise. Processes
 * rotate the order of the pairs. Every call's outcome is checked.
 */
export function runMetricsCost(plan: MetricsCostPlan): MetricsCostRow[] {
  const diffs = METRICS_PAIRS.map(() => ({ all: [] as number[], medians: [] as number[] }));
  const sides = METRICS_PAIRS.map(() => ({ measured: [] as number[], baseline: [] as number[] }));
  for (let p = 0; p < plan.processes; p++) {
    for (let k = 0; k < METRICS_PAIRS.length; k++) {
      const index = (k + p) % METRICS_PAIRS.length;
      const args = [index, plan.pairs, plan.blockCalls, plan.warmupCalls].map(String);
      const child = spawnSync(process.execPath, [__filename, '--pair', ...args], {
        encoding: 'utf8',
      });
      if (child.status !== 0) {
        throw new Error(`${METRICS_PAIRS[index].label}: exit ${child.status}: ${child.stderr}`);
      }
      const run = JSON.parse(child.stdout) as PairRun;
      diffs[index].all.push(...run.diffs);
      diffs[index].medians.push(median(run.diffs));
      sides[index].measured.push(...run.measured);
      sides[index].baseline.push(...run.baseline);
    }
  }
  return METRICS_PAIRS.map(({ label, measured }, i) => {
    const all = diffs[i].all;
    return {
      pair: label,
      config: VARIANTS[measured],
      samples: `${plan.processes} x ${plan.pairs} x ${plan.blockCalls}`,
      measuredMicros: median(sides[i].measured),
      baselineMicros: median(sides[i].baseline),
      addedMicros: median(all),
      addedIqr: [percentile(all, 25), percentile(all, 75)],
      addedMeanMicros: all.reduce((sum, d) => sum + d, 0) / all.length,
      perProcessMedians: diffs[i].medians,
    };
  });
}

/** What one pair's process measured: CPU per call of each block, µs. */
interface PairRun {
  measured: number[];
  baseline: number[];
  diffs: number[];
}

/** One pair in this process (`metrics-cost.js --pair <index> <pairs> <blockCalls> <warmup>`). */
async function runPair(index: number, pairs: number, blockCalls: number, warmup: number) {
  const pair = METRICS_PAIRS[index];
  const { variants, close } = metricsVariants([pair.measured, 'metrics off']);
  const [measured, baseline] = variants;
  try {
    for (const v of [measured, baseline, measured, baseline]) await sequential(v, warmup / 2);
    const run: PairRun = { measured: [], baseline: [], diffs: [] };
    const block = async (client: BenchClient) => {
      const since = process.cpuUsage();
      await sequential(client, blockCalls);
      return cpuMicros(since) / blockCalls;
    };
    for (let i = 0; i < pairs; i++) {
      let a: number;
      let b: number;
      if (i % 2 === 0) {
        a = await block(measured);
        b = await block(baseline);
      } else {
        b = await block(baseline);
        a = await block(measured);
      }
      run.measured.push(a);
      run.baseline.push(b);
      run.diffs.push(a - b);
    }
    return run;
  } finally {
    await close();
  }
}

/** The named clients on a stub channel each, and a `close` for all they hold. */
function metricsVariants(names: readonly VariantName[]) {
  const reply = TestService.service.GetItem.responseSerialize({
    id: 'bench',
    value: 'v',
    backend: 'stub',
  });
  const providers: MeterProvider[] = [];
  const prometheusProvider = (withProducer: boolean) => {
    const provider = prometheusMeterProvider(withProducer);
    providers.push(provider);
    return provider;
  };
  const stack = (metrics: MetricsOptions | undefined): grpc.ClientOptions => {
    const options = resilientOptions({ service: TestService.service, metrics: false });
    const measured = metrics && createClientMetrics({ target: 'stub', ...metrics });
    if (!measured) return options;
    // Where the channel factory puts them: first, and innermost.
    const interceptors = options.interceptors ?? [];
    return {
      ...options,
      interceptors: [measured.callInterceptor, ...interceptors, measured.attemptInterceptor],
    };
  };
  const optionsOf: Record<VariantName, () => grpc.ClientOptions> = {
    'metrics off': () => stack(undefined),
    'metrics, no provider': () => stack({}),
    'metrics on (recommended)': () => stack({ meterProvider: prometheusProvider(true) }),
    'metrics on, SDK histograms': () => stack({ meterProvider: prometheusProvider(false) }),
  };
  const variants = names.map(
    (name) =>
      new TestService('stub', grpc.credentials.createInsecure(), {
        ...optionsOf[name](),
        channelOverride: new StubChannel(reply),
      }) as BenchClient,
  );
  const close = async () => {
    for (const client of variants) client.close();
    await Promise.all(providers.map((provider) => provider.shutdown()));
  };
  return { variants, close };
}

/**
 * A Prometheus pipeline as the metrics README builds it: an SDK MeterProvider whose reader is a
 * PrometheusExporter, with `prometheusViews()`, and with the recommended HistogramProducer or
 * without it. The exporter's HTTP server is not started (never scraped: what a call pays is the
 * recording, and a server nobody scrapes costs a call nothing).
 */
export function prometheusMeterProvider(withProducer: boolean): MeterProvider {
  const histograms = withProducer ? new HistogramProducer({ prometheusNames: true }) : undefined;
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: histograms ? [histograms] : [],
  });
  const provider = new MeterProvider({ readers: [exporter], views: prometheusViews() });
  histograms?.useFor(provider);
  return provider;
}

/** The rows as a Markdown table. */
export function metricsCostTable(rows: readonly MetricsCostRow[]): string {
  const f = (value: number) => value.toFixed(2);
  const lines = [
    '| pair (measured vs metrics off) | processes x pairs x calls | CPU µs/call (measured, off) | added µs: median (IQR) | mean | per-process medians |',
    '|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const [q1, q3] = row.addedIqr;
    lines.push(
      `| ${row.pair} | ${row.samples} | ${row.measuredMicros.toFixed(1)}, ${row.baselineMicros.toFixed(1)} | ${f(row.addedMicros)} (${f(q1)} to ${f(q3)}) | ${f(row.addedMeanMicros)} | ${row.perProcessMedians.map(f).join(', ')} |`,
    );
  }
  lines.push('', ...rows.map((row) => `- ${row.pair}: ${row.config}`));
  return lines.join('\n');
}

if (require.main === module) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === '--pair') {
    const [index, pairs, blockCalls, warmup] = args.map(Number);
    void runPair(index, pairs, blockCalls, warmup).then(
      (run) => console.log(JSON.stringify(run)),
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  } else {
    // `node packages/bench/dist/metrics-cost.js [quick|full]`: the rows alone.
    console.log(
      metricsCostTable(runMetricsCost(METRICS_PLANS[mode === 'quick' ? 'quick' : 'full'])),
    );
  }
}

/** `count` GetItem calls one after another; rejects if any call failed or got the wrong reply. */
function sequential(client: BenchClient, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = count;
    const next = (error: grpc.ServiceError | null, reply?: { id?: string }): void => {
      if (left < count && (error || reply?.id !== 'bench')) {
        reject(new Error(`a bench call failed: ${error?.message ?? JSON.stringify(reply)}`));
        return;
      }
      if (--left < 0) resolve();
      else void client.GetItem(request, next);
    };
    next(null, { id: 'bench' });
  });
}
