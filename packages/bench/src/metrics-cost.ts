import { spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { resilientOptions } from '@grpc-resilience/channel';
import {
  HistogramProducer,
  INSTRUMENTS,
  createClientMetrics,
  prometheusViews,
  type MetricsOptions,
} from '@grpc-resilience/metrics';
import { testServiceClient, type TestServiceClient } from '@grpc-resilience/testing';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { abbaOrder, cpuMicros, median, ratioSummary } from './measure';
import { StubChannel } from './stub-channel';

/** One row: a variant's client CPU per call and what it adds to the stack without metrics. */
export interface MetricsCostRow {
  variant: string;
  /** What the variant ran: the interceptors and where its values went. */
  config: string;
  /** Client CPU per call, µs: median over rounds. */
  cpuMicrosPerCall: number;
  /** Added over the same stack with metrics off, µs: median of per-round differences. */
  addedMicros: number;
  addedRange: [number, number];
  /** CPU per call over the metrics-off stack's, and over raw grpc-js's: per-round medians. */
  ratioToOff: number;
  ratioToRaw: number;
}

const TestService = testServiceClient();
const request = { id: 'bench', value: 'v' };

type BenchClient = TestServiceClient & {
  GetItem(
    request: object,
    callback: (error: grpc.ServiceError | null, reply?: { id?: string }) => void,
  ): grpc.Call;
};

/** Names of the variants, in the order of the rows; 'metrics off' is the baseline. */
export const METRICS_VARIANTS = [
  'raw grpc-js',
  'metrics off',
  'metrics, no provider',
  'metrics on, SDK histograms',
  'metrics on, SDK histograms, sizes off',
  'metrics on, layer histograms',
] as const;

type VariantName = (typeof METRICS_VARIANTS)[number];

const CONFIGS: Record<VariantName, string> = {
  'raw grpc-js': 'no interceptors',
  'metrics off': 'full default client stack (resilientOptions), metrics: false',
  'metrics, no provider': 'the same, metrics asked for, no meter provider (adds no interceptor)',
  'metrics on, SDK histograms':
    'the same + metrics interceptors; SDK MeterProvider, Prometheus exporter, prometheusViews()',
  'metrics on, SDK histograms, sizes off':
    'as above, disabledMetrics: the two attempt size histograms',
  'metrics on, layer histograms':
    'as "SDK histograms", with a HistogramProducer given to the exporter (useFor the provider)',
};

/**
 * The issue-16 rows, in process on a stub channel (client-side JS only, as the in-process
 * table): raw grpc-js; the full default client stack with metrics off; the same with metrics
 * asked for while no meter provider is registered (it must add nothing: no interceptor is
 * added); with a real SDK MeterProvider whose reader is the Prometheus exporter (never scraped:
 * what a call pays is the recording), every instrument, then without the two size histograms;
 * and with the histograms aggregated in the layer (`HistogramProducer`). Paired per round, ABBA
 * order around metrics off. Every call's outcome is checked.
 */
export async function runMetricsCost(
  rounds: number,
  callsPerRun: number,
): Promise<MetricsCostRow[]> {
  const { variants, close } = metricsVariants();
  try {
    const off = variants.find((v) => v.name === 'metrics off')!;
    const others = variants.filter((v) => v !== off);
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
    return metricsCostRows(samples);
  } finally {
    await close();
  }
}

/**
 * The same rows, each variant alone in a process of its own (its own JIT state and garbage, no
 * other variant's call sites), `rounds` rounds in rotated order: the figures docs/observability.md
 * reports. `node packages/bench/dist/metrics-cost.js --per-process 8 20000 5000`.
 */
export function runMetricsCostPerProcess(
  rounds: number,
  calls: number,
  warmup: number,
): MetricsCostRow[] {
  const samples = new Map<string, number[]>(METRICS_VARIANTS.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = METRICS_VARIANTS.map(
      (_, i) => METRICS_VARIANTS[(i + round) % METRICS_VARIANTS.length],
    );
    for (const name of round % 2 ? [...order].reverse() : order) {
      const child = spawnSync(
        process.execPath,
        ['--expose-gc', __filename, name, String(calls), String(warmup)],
        { encoding: 'utf8' },
      );
      const micros = Number(/\t([\d.]+) µs\/call/.exec(child.stdout)?.[1]);
      if (child.status !== 0 || !Number.isFinite(micros)) {
        throw new Error(`${name}: exit ${child.status}: ${child.stderr || child.stdout}`);
      }
      samples.get(name)!.push(micros);
    }
  }
  return metricsCostRows(samples);
}

function metricsCostRows(samples: ReadonlyMap<string, number[]>): MetricsCostRow[] {
  const off = samples.get('metrics off')!;
  const raw = samples.get('raw grpc-js')!;
  return METRICS_VARIANTS.map((name) => {
    const values = samples.get(name)!;
    const added = values.map((value, i) => value - off[i]);
    return {
      variant: name,
      config: CONFIGS[name],
      cpuMicrosPerCall: median(values),
      addedMicros: median(added),
      addedRange: [Math.min(...added), Math.max(...added)],
      ratioToOff: ratioSummary(values, off).median,
      ratioToRaw: ratioSummary(values, raw).median,
    };
  });
}

/** Every variant's client on one stub channel each, and a `close` for all they hold. */
function metricsVariants(only?: string) {
  const reply = TestService.service.GetItem.responseSerialize({
    id: 'bench',
    value: 'v',
    backend: 'stub',
  });
  const providers: MeterProvider[] = [];
  // A Prometheus pipeline as an application would build it (never scraped).
  const prometheusProvider = (histograms?: HistogramProducer) => {
    const exporter = new PrometheusExporter({
      preventServerStart: true,
      metricProducers: histograms ? [histograms] : [],
    });
    const provider = new MeterProvider({ readers: [exporter], views: prometheusViews() });
    histograms?.useFor(provider);
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
  const sizes = [INSTRUMENTS.attemptSentBytes.name, INSTRUMENTS.attemptRcvdBytes.name];
  const optionsOf: Record<VariantName, () => grpc.ClientOptions> = {
    'raw grpc-js': () => ({}),
    'metrics off': () => stack(undefined),
    'metrics, no provider': () => stack({}),
    'metrics on, SDK histograms': () => stack({ meterProvider: prometheusProvider() }),
    // What a team that never charts message sizes pays: two SDK records fewer per attempt.
    'metrics on, SDK histograms, sizes off': () =>
      stack({ meterProvider: prometheusProvider(), disabledMetrics: sizes }),
    'metrics on, layer histograms': () =>
      stack({
        meterProvider: prometheusProvider(new HistogramProducer({ prometheusNames: true })),
      }),
  };
  const variants = METRICS_VARIANTS.filter((name) => only === undefined || name === only).map(
    (name) => variant(name, optionsOf[name](), reply),
  );
  const close = async () => {
    for (const v of variants) v.client.close();
    await Promise.all(providers.map((provider) => provider.shutdown()));
  };
  return { variants, close };
}

/**
 * One variant alone in this process: `calls` calls after `warmup`, client CPU per call. Run
 * each variant in its own process to see its cost without the others' garbage and call sites
 * (interleaving them in one process inflates the difference): `node
 * packages/bench/dist/metrics-cost.js 'metrics on, SDK histograms' 20000 5000`.
 */
export async function runMetricsVariantAlone(
  name: string,
  calls: number,
  warmup: number,
): Promise<number> {
  const { variants, close } = metricsVariants(name);
  if (variants.length !== 1) throw new Error(`variant is one of: ${METRICS_VARIANTS.join(', ')}`);
  const [{ client }] = variants;
  try {
    await sequential(client, warmup);
    global.gc?.();
    const since = process.cpuUsage();
    await sequential(client, calls);
    return cpuMicros(since) / calls;
  } finally {
    await close();
  }
}

if (require.main === module) {
  const [first = METRICS_VARIANTS[1], ...rest] = process.argv.slice(2);
  if (first === '--per-process') {
    const [rounds = '8', calls = '20000', warmup = '5000'] = rest;
    const rows = runMetricsCostPerProcess(Number(rounds), Number(calls), Number(warmup));
    console.log(metricsCostTable(rows));
  } else {
    const [calls = '20000', warmup = '5000'] = rest;
    void runMetricsVariantAlone(first, Number(calls), Number(warmup)).then(
      (micros) => console.log(`${first}\t${micros.toFixed(2)} µs/call`),
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  }
}

/** The rows as a Markdown table. */
export function metricsCostTable(rows: readonly MetricsCostRow[]): string {
  const lines = [
    '| variant | what ran | CPU µs/call | added vs metrics off, µs (range) | x metrics off | x raw grpc-js |',
    '|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const [low, high] = row.addedRange;
    lines.push(
      `| ${row.variant} | ${row.config} | ${row.cpuMicrosPerCall.toFixed(1)} | ${row.addedMicros.toFixed(2)} (${low.toFixed(2)} to ${high.toFixed(2)}) | ${row.ratioToOff.toFixed(3)} | ${row.ratioToRaw.toFixed(3)} |`,
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
