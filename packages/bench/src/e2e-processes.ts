import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as inspector from 'node:inspector/promises';
import { join } from 'node:path';
import { metrics } from '@opentelemetry/api';
import { startServerProcess } from './bench-server';
import { cpuMicros, median, ratioSummary, type RatioRange } from './measure';
import { prometheusMeterProvider } from './metrics-cost';
import { table } from './report';
import { rawDeadlineVariant, resilientClientVariant, type Variant } from './variants';

const METRICS_ON = 'createResilientClient, metrics on (Prometheus + HistogramProducer)';

/**
 * The clients of the paired-process rows, by name: raw grpc-js with the layer's default deadline
 * (the anchor), `createResilientClient` with every default over a list of one address (no meter
 * provider registered: metrics add nothing), and the same with the metrics README's setup
 * registered first: a MeterProvider whose reader is a PrometheusExporter given a
 * HistogramProducer.
 */
const PROCESS_VARIANTS: Record<string, (address: string) => Variant> = {
  'raw grpc-js + deadline': (address) => rawDeadlineVariant(address),
  createResilientClient: (address) => resilientClientVariant([address]),
  [METRICS_ON]: (address) => {
    const provider = prometheusMeterProvider(true);
    metrics.setGlobalMeterProvider(provider);
    const variant = resilientClientVariant([address]);
    return {
      ...variant,
      name: METRICS_ON,
      close: () => {
        variant.close();
        void provider.shutdown();
      },
    };
  },
};

/** The lines a client process prints around its measured calls when BENCH_GC_MARKS is set. */
export const MEASURED_START = 'measured calls: start';
export const MEASURED_END = 'measured calls: end';

/** What one client process measured over its `calls` (after its warm-up). */
interface ProcessRun {
  cpuMicros: number;
  wallMs: number;
  failed: number;
}

type Range = RatioRange;

export interface PairedProcessResult {
  rounds: number;
  calls: number;
  concurrency: number;
  /**
   * Median client CPU per call (µs) and wall time (ms) of each slot's runs, and each round's
   * figures (whole run, in round order), so that several runs can be pooled.
   */
  slots: {
    slot: string;
    variant: string;
    cpuMicrosPerCall: number;
    wallMs: number;
    perRoundCpuMicros: number[];
    perRoundWallMs: number[];
  }[];
  /** Per round, the layer's run over the anchor's (slot A): CPU and time. */
  layer: { cpu: Range; time: Range };
  /** Per round, the layer with metrics on over the anchor's run. */
  metricsOn: { cpu: Range; time: Range };
  /** Per round, the layer with metrics on over the layer without: what metrics cost. */
  metricsOnOverOff: { cpu: Range; time: Range };
  /** Per round, the anchor's second run (slot B) over its first: the noise floor. */
  aa: { cpu: Range; time: Range };
}

/** `count` unary calls, `concurrency` in flight; resolves with how many failed. */
function unaryCalls(variant: Variant, count: number, concurrency: number): Promise<number> {
  return new Promise((resolve) => {
    if (count <= 0) return resolve(0);
    let started = 0;
    let ended = 0;
    let failed = 0;
    const next = () => {
      if (started < count) {
        started++;
        variant.call(onEnd);
      }
    };
    const onEnd = (error?: unknown) => {
      if (error !== undefined) failed++;
      if (++ended === count) resolve(failed);
      else next();
    };
    for (let i = 0; i < Math.min(concurrency, count); i++) next();
  });
}

/**
 * One client process of the paired rows (`e2e-processes.js client <variant> <address> <calls> <inFlight>`):
 * warms up (connection, JIT), then measures its own CPU and wall time over `calls` calls. With
 * `BENCH_CPU_PROFILE_DIR` set it writes a V8 CPU profile of the measured calls only.
 */
async function clientProcess(args: string[]): Promise<void> {
  const [name, address, calls, concurrency] = [args[0], args[1], Number(args[2]), Number(args[3])];
  const variant = PROCESS_VARIANTS[name](address);
  await unaryCalls(variant, Math.min(5000, Math.floor(calls / 4)), concurrency);
  global.gc?.();
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const session = profileDir ? new inspector.Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  // For e2e-gc-counts.ts: V8's --trace-gc-nvp lines between these two are the measured calls'.
  const marks = process.env.BENCH_GC_MARKS !== undefined;
  if (marks) process.stdout.write(`${MEASURED_START}\n`);
  const since = process.cpuUsage();
  const start = performance.now();
  const failed = await unaryCalls(variant, calls, concurrency);
  if (marks) process.stdout.write(`${MEASURED_END}\n`);
  const run: ProcessRun = {
    cpuMicros: cpuMicros(since),
    wallMs: performance.now() - start,
    failed,
  };
  if (session && profileDir) {
    const { profile } = await session.post('Profiler.stop');
    const file = `${name.replace(/\W+/g, '-')}-${process.pid}.cpuprofile`;
    writeFileSync(join(profileDir, file), JSON.stringify(profile));
    session.disconnect();
  }
  variant.close();
  process.send!(run, () => process.disconnect());
}

function runClientProcess(variant: string, address: string, calls: number, inFlight: number) {
  const child = fork(__filename, ['client', variant, address, String(calls), String(inFlight)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<ProcessRun>((resolve, reject) => {
    let run: ProcessRun | undefined;
    child.once('error', reject);
    child.once('message', (message: ProcessRun) => (run = message));
    child.once('exit', (code) => {
      if (run === undefined) return reject(new Error(`${variant} client exited with ${code}`));
      if (run.failed > 0) return reject(new Error(`${variant}: ${run.failed} calls failed`));
      resolve(run);
    });
  });
}

/** The slots of a round, in their order before rotation: [slot, client variant]. */
const SLOTS = [
  ['anchor A', 'raw grpc-js + deadline'],
  ['layer', 'createResilientClient'],
  ['layer, metrics on', METRICS_ON],
  ['anchor B', 'raw grpc-js + deadline'],
] as const;

/**
 * Issue 13's paired rows, and issue 16's metrics row: each round runs four client processes one
 * after the other, in an order rotated per round (anchor A, the layer, the layer with metrics
 * on, anchor B): each makes `calls` unary calls at `inFlight`, and the per-round ratios are
 * summarised: to anchor A (the layer's, and anchor B's, the A/A control), and the layer with
 * metrics on to the layer without. Separate processes keep each side's JIT, GC and channels to
 * itself.
 */
export async function runPairedProcesses(
  address: string,
  rounds: number,
  calls: number,
  inFlight = 64,
): Promise<PairedProcessResult> {
  const runs: ProcessRun[][] = SLOTS.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < SLOTS.length; k++) {
      const slot = (k + round) % SLOTS.length;
      runs[slot].push(await runClientProcess(SLOTS[slot][1], address, calls, inFlight));
    }
  }
  return pairedResult(runs, calls, inFlight);
}

/** The summary of each slot's runs (`runs[slot][round]`), ratios taken per round. */
function pairedResult(runs: ProcessRun[][], calls: number, inFlight: number): PairedProcessResult {
  const over = (slot: number, key: 'cpuMicros' | 'wallMs', base = 0) =>
    ratioSummary(
      runs[slot].map((r) => r[key]),
      runs[base].map((r) => r[key]),
    );
  return {
    rounds: runs[0].length,
    calls,
    concurrency: inFlight,
    slots: SLOTS.map(([slot, variant], i) => ({
      slot,
      variant,
      cpuMicrosPerCall: median(runs[i].map((r) => r.cpuMicros / calls)),
      wallMs: median(runs[i].map((r) => r.wallMs)),
      perRoundCpuMicros: runs[i].map((r) => r.cpuMicros),
      perRoundWallMs: runs[i].map((r) => r.wallMs),
    })),
    layer: { cpu: over(1, 'cpuMicros'), time: over(1, 'wallMs') },
    metricsOn: { cpu: over(2, 'cpuMicros'), time: over(2, 'wallMs') },
    metricsOnOverOff: { cpu: over(2, 'cpuMicros', 1), time: over(2, 'wallMs', 1) },
    aa: { cpu: over(3, 'cpuMicros'), time: over(3, 'wallMs') },
  };
}

/**
 * Several runs' rounds as one run: one run of nine rounds cannot tell 1.03x from 1.07x here
 * (identical code gave medians from 1.011x to 1.098x), its pooled rounds can. Each file holds a
 * run's JSON line (the output of `pairs`, as printed); the runs must share calls and concurrency.
 */
export function poolPairedRuns(files: readonly string[]): PairedProcessResult {
  const results = files.map((file) => {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((text) => text.startsWith('{'));
    if (line === undefined) throw new Error(`${file}: no JSON line of a paired run`);
    return JSON.parse(line) as PairedProcessResult;
  });
  const [first] = results;
  const runs: ProcessRun[][] = SLOTS.map(() => []);
  for (const [i, result] of results.entries()) {
    if (result.calls !== first.calls || result.concurrency !== first.concurrency)
      throw new Error(
        `${files[i]}: ${result.calls} calls at ${result.concurrency}, not as the first`,
      );
    SLOTS.forEach(([slot], k) => {
      const runSlot = result.slots.find((s) => s.slot === slot);
      if (runSlot === undefined) throw new Error(`${files[i]}: no slot "${slot}"`);
      runSlot.perRoundCpuMicros.forEach((cpuMicros, round) =>
        runs[k].push({ cpuMicros, wallMs: runSlot.perRoundWallMs[round], failed: 0 }),
      );
    });
  }
  return pairedResult(runs, first.calls, first.concurrency);
}

export function pairedProcessTable(result: PairedProcessResult): string {
  const r = (x: Range) => `${x.median.toFixed(3)} (${x.min.toFixed(3)}-${x.max.toFixed(3)})`;
  // The median's 95 % interval: what the run can tell apart (a target inside it is undecided).
  const ci = (x: Range) =>
    x.medianLow === undefined ? 'n/a' : `${x.medianLow.toFixed(3)}-${x.medianHigh!.toFixed(3)}`;
  const ratios = [undefined, result.layer, result.metricsOn, result.aa];
  const { cpu, time } = result.metricsOnOverOff;
  return [
    table(
      [
        `unary, one client process per run (${result.calls} calls at ${result.concurrency}, ${result.rounds} rounds)`,
        'CPU µs/call',
        'wall ms',
        'CPU ratio to A (range)',
        'its median, 95 %',
        'time ratio to A (range)',
        'its median, 95 %',
      ],
      result.slots.map((s, i) => [
        `${s.slot}: ${s.variant}`,
        s.cpuMicrosPerCall.toFixed(1),
        s.wallMs.toFixed(0),
        ratios[i] ? r(ratios[i].cpu) : '1',
        ratios[i] ? ci(ratios[i].cpu) : '',
        ratios[i] ? r(ratios[i].time) : '1',
        ratios[i] ? ci(ratios[i].time) : '',
      ]),
    ),
    `metrics on over the layer without, per round: CPU ${r(cpu)} [${ci(cpu)}], time ${r(time)} [${ci(time)}] (calls/s: the inverse)`,
  ].join('\n');
}

if (require.main === module) {
  // `node e2e-processes.js pairs [rounds] [calls]`: the paired rows alone (for profiling: set
  // BENCH_CPU_PROFILE_DIR); `node e2e-processes.js pool <file>...`: several runs' printed output
  // pooled round by round; `node e2e-processes.js client ...` is one of their client processes.
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'client') void clientProcess(args);
  else if (mode === 'pool') {
    const result = poolPairedRuns(args);
    console.log(pairedProcessTable(result));
    console.log(JSON.stringify(result));
  } else if (mode === 'pairs') {
    void (async () => {
      const server = await startServerProcess('bare');
      try {
        const result = await runPairedProcesses(
          server.address,
          Number(args[0] ?? 9),
          Number(args[1] ?? 30_000),
        );
        console.log(pairedProcessTable(result));
        console.log(JSON.stringify(result));
      } finally {
        server.stop();
      }
    })();
  }
}
