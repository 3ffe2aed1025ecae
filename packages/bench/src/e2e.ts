import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as inspector from 'node:inspector/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createChannel } from 'nice-grpc';
import { createResilientClient } from '@grpc-resilience/channel';
import { behaviourMetadata, testServiceClient } from '@grpc-resilience/testing';
import { abbaOrder, cpuMicros, median, percentile, ratioSummary } from './measure';
import { table } from './report';
import {
  layerVariants,
  nativeRetryVariant,
  niceGrpcVariant,
  rawDeadlineVariant,
  rawVariant,
  resilientClientVariant,
  type Variant,
} from './variants';

export interface ServerHandle {
  address: string;
  stop(): void;
}

/** Starts the bench server in a child process. */
export function startServerProcess(kind: 'bare' | 'kit'): Promise<ServerHandle> {
  const child: ChildProcess = fork(join(__dirname, 'server-process.js'), [kind], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (message: { address: string }) =>
      resolve({ address: message.address, stop: () => child.connected && child.disconnect() }),
    );
  });
}

/** Unary calls kept `concurrency` in flight for `windowMs`: calls per second and client CPU per call. */
function throughput(
  variant: Variant,
  concurrency: number,
  windowMs: number,
): Promise<{ callsPerSecond: number; cpuMicrosPerCall: number }> {
  return new Promise((resolve) => {
    let done = 0;
    let open = concurrency;
    const since = process.cpuUsage();
    const start = performance.now();
    const loop = () => {
      if (performance.now() - start >= windowMs) {
        if (--open === 0) {
          const seconds = (performance.now() - start) / 1000;
          resolve({ callsPerSecond: done / seconds, cpuMicrosPerCall: cpuMicros(since) / done });
        }
        return;
      }
      variant.call(() => {
        done++;
        loop();
      });
    };
    for (let i = 0; i < concurrency; i++) loop();
  });
}

/** One call at a time for `windowMs`: every latency, in ms. */
function latencies(variant: Variant, windowMs: number): Promise<number[]> {
  return new Promise((resolve) => {
    const all: number[] = [];
    const start = performance.now();
    const next = () => {
      if (performance.now() - start >= windowMs) return resolve(all);
      const t = performance.now();
      variant.call(() => {
        all.push(performance.now() - t);
        next();
      });
    };
    next();
  });
}

export interface E2eRow {
  variant: string;
  callsPerSecond: number;
  throughputRatio: { median: number; min: number; max: number };
  cpuMicrosPerCall: number;
  addedCpuMicros: number;
  p50Ms: number;
  p99Ms: number;
}

export interface E2eResult {
  unary: E2eRow[];
  /** The layer against raw grpc-js + deadline, one client process per run (and the A/A). */
  processes: PairedProcessResult;
  /** Latencies at 1 in flight of raw grpc-js and of the full stack, for the chart. */
  latencySamples: { raw: number[]; layer: number[] };
  streaming: {
    variant: string;
    messagesPerSecond: number;
    ratio: { median: number; min: number; max: number };
  }[];
  server: {
    variant: string;
    callsPerSecond: number;
    ratio: { median: number; min: number; max: number };
  }[];
}

/** The end-to-end section: two processes on loopback, every variant in each ABBA round. */
export async function runE2e(rounds: number, windowMs: number): Promise<E2eResult> {
  const server = await startServerProcess('bare');
  const kitServer = await startServerProcess('kit');
  try {
    // Raw grpc-js with the layer's default deadline is the anchor: every ratio is against it.
    const layer = layerVariants(server.address);
    const picked = [
      'raw grpc-js + deadline',
      'raw grpc-js',
      'full stack',
      'full stack + logger',
      'deadline',
      'retry',
      'circuit breaker',
    ].map((name) => layer.find((v) => v.name === name)!);
    for (const variant of layer) if (!picked.includes(variant)) variant.close();
    const all = [
      ...picked,
      nativeRetryVariant(server.address),
      niceGrpcVariant(createChannel(server.address) as unknown as grpc.ChannelInterface),
    ];
    const [raw, ...others] = all;
    const tput = new Map<string, number[]>(all.map((v) => [v.name, []]));
    const cpu = new Map<string, number[]>(all.map((v) => [v.name, []]));
    const lat = new Map<string, number[]>(all.map((v) => [v.name, []]));
    for (const variant of all) await throughput(variant, 64, Math.min(300, windowMs)); // warm up
    for (let round = 0; round < rounds; round++) {
      for (const variant of abbaOrder(raw, others, round)) {
        const result = await throughput(variant, 64, windowMs / 2);
        tput.get(variant.name)!.push(result.callsPerSecond);
        cpu.get(variant.name)!.push(result.cpuMicrosPerCall);
      }
      for (const variant of all)
        lat.get(variant.name)!.push(...(await latencies(variant, windowMs / 2)));
    }
    // ABBA ran raw twice per round: pair each variant with the mean of its round's raws.
    const rawPerRound = pairs(tput.get(raw.name)!);
    const rawCpu = pairs(cpu.get(raw.name)!);
    const unary = all.map((variant) => {
      const perRound = variant === raw ? rawPerRound : pairs(tput.get(variant.name)!);
      const cpuPerRound = variant === raw ? rawCpu : pairs(cpu.get(variant.name)!);
      return {
        variant: variant.name,
        callsPerSecond: median(perRound),
        throughputRatio: ratioSummary(perRound, rawPerRound),
        cpuMicrosPerCall: median(cpuPerRound),
        addedCpuMicros: median(cpuPerRound.map((value, i) => value - rawCpu[i])),
        p50Ms: percentile(lat.get(variant.name)!, 50),
        p99Ms: percentile(lat.get(variant.name)!, 99),
      };
    });
    const streaming = await measureStreaming(server.address, rounds, windowMs);
    const serverSide = await measureServerKit(server.address, kitServer.address, rounds, windowMs);
    for (const variant of all) variant.close();
    // Issue 13's figure: 9 paired rounds of 30,000 calls (3 of 10,000 in the quick run).
    const full = windowMs >= 3000;
    const processes = await runPairedProcesses(
      server.address,
      full ? 9 : 3,
      full ? 30_000 : 10_000,
    );
    console.log(`${pairedProcessTable(processes)}\n`);
    return {
      unary,
      processes,
      latencySamples: { raw: lat.get(raw.name)!, layer: lat.get('full stack')! },
      streaming,
      server: serverSide,
    };
  } finally {
    server.stop();
    kitServer.stop();
  }
}

/** Each variant ran twice per round (ABBA): the mean of each round's two runs. */
function pairs(values: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < values.length; i += 2) out.push((values[i] + values[i + 1]) / 2);
  return out;
}

async function measureStreaming(address: string, rounds: number, windowMs: number) {
  const TestService = testServiceClient();
  const clients = {
    'raw grpc-js': new TestService(address, grpc.credentials.createInsecure()),
    'full stack': createResilientClient(TestService, address, { deadline: { defaultMs: 60_000 } }),
  };
  const metadata = () => behaviourMetadata({ messages: 5000 });
  const run = (client: grpc.Client & Record<string, unknown>) =>
    new Promise<number>((resolve) => {
      let messages = 0;
      const start = performance.now();
      const next = () => {
        if (performance.now() - start >= windowMs / 2)
          return resolve((messages * 1000) / (performance.now() - start));
        const call = (
          client.ListItems as (r: object, m: grpc.Metadata) => grpc.ClientReadableStream<unknown>
        )({ count: 0 }, metadata());
        call.on('data', () => messages++);
        call.on('error', () => undefined);
        call.on('status', next);
      };
      next();
    });
  const samples: Record<string, number[]> = { 'raw grpc-js': [], 'full stack': [] };
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 ? ['full stack', 'raw grpc-js'] : ['raw grpc-js', 'full stack']) {
      samples[name].push(await run(clients[name as keyof typeof clients] as never));
    }
  }
  for (const client of Object.values(clients)) client.close();
  return Object.entries(samples).map(([variant, values]) => ({
    variant,
    messagesPerSecond: median(values),
    ratio: ratioSummary(values, samples['raw grpc-js']),
  }));
}

async function measureServerKit(bare: string, kit: string, rounds: number, windowMs: number) {
  const toBare = rawVariant(bare);
  const toKit = rawVariant(kit);
  const samples: Record<string, number[]> = { 'bare server': [], 'server kit': [] };
  for (let round = 0; round < rounds; round++) {
    for (const [name, variant] of round % 2
      ? ([
          ['server kit', toKit],
          ['bare server', toBare],
        ] as const)
      : ([
          ['bare server', toBare],
          ['server kit', toKit],
        ] as const)) {
      samples[name].push((await throughput(variant, 64, windowMs / 2)).callsPerSecond);
    }
  }
  toBare.close();
  toKit.close();
  return Object.entries(samples).map(([variant, values]) => ({
    variant,
    callsPerSecond: median(values),
    ratio: ratioSummary(values, samples['bare server']),
  }));
}

/**
 * The clients of the paired-process rows, by name: raw grpc-js with the layer's default deadline
 * (the anchor), and `createResilientClient` with every default over a list of one address.
 */
const PROCESS_VARIANTS: Record<string, (address: string) => Variant> = {
  'raw grpc-js + deadline': (address) => rawDeadlineVariant(address),
  createResilientClient: (address) => resilientClientVariant([address]),
};

/** What one client process measured over its `calls` (after its warm-up). */
interface ProcessRun {
  cpuMicros: number;
  wallMs: number;
  failed: number;
}

type Range = { median: number; min: number; max: number };

export interface PairedProcessResult {
  rounds: number;
  calls: number;
  concurrency: number;
  /** Median client CPU per call (µs) and wall time (ms) of each slot's runs. */
  slots: { slot: string; variant: string; cpuMicrosPerCall: number; wallMs: number }[];
  /** Per round, the layer's run over the anchor's (slot A): CPU and time. */
  layer: { cpu: Range; time: Range };
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
 * One client process of the paired rows (`e2e.js client <variant> <address> <calls> <inFlight>`):
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
  const since = process.cpuUsage();
  const start = performance.now();
  const failed = await unaryCalls(variant, calls, concurrency);
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

/**
 * Issue 13's paired rows: each round runs three client processes one after the other, in an
 * order rotated per round (anchor A, layer, anchor B): each makes `calls` unary calls at
 * `inFlight`, and the per-round ratios to anchor A (the layer's and anchor B's, the A/A control)
 * are summarised. Separate processes keep each side's JIT, GC and channels to itself.
 */
export async function runPairedProcesses(
  address: string,
  rounds: number,
  calls: number,
  inFlight = 64,
): Promise<PairedProcessResult> {
  const slots = [
    ['anchor A', 'raw grpc-js + deadline'],
    ['layer', 'createResilientClient'],
    ['anchor B', 'raw grpc-js + deadline'],
  ];
  const runs: ProcessRun[][] = slots.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < slots.length; k++) {
      const slot = (k + round) % slots.length;
      runs[slot].push(await runClientProcess(slots[slot][1], address, calls, inFlight));
    }
  }
  const over = (slot: number, key: 'cpuMicros' | 'wallMs') =>
    ratioSummary(
      runs[slot].map((r) => r[key]),
      runs[0].map((r) => r[key]),
    );
  return {
    rounds,
    calls,
    concurrency: inFlight,
    slots: slots.map(([slot, variant], i) => ({
      slot,
      variant,
      cpuMicrosPerCall: median(runs[i].map((r) => r.cpuMicros / calls)),
      wallMs: median(runs[i].map((r) => r.wallMs)),
    })),
    layer: { cpu: over(1, 'cpuMicros'), time: over(1, 'wallMs') },
    aa: { cpu: over(2, 'cpuMicros'), time: over(2, 'wallMs') },
  };
}

export function pairedProcessTable(result: PairedProcessResult): string {
  const r = (x: Range) => `${x.median.toFixed(3)} (${x.min.toFixed(3)}-${x.max.toFixed(3)})`;
  return table(
    [
      `unary, one client process per run (${result.calls} calls at ${result.concurrency}, ${result.rounds} rounds)`,
      'CPU µs/call',
      'wall ms',
      'CPU ratio to A (range)',
      'time ratio to A (range)',
    ],
    result.slots.map((s, i) => [
      `${s.slot}: ${s.variant}`,
      s.cpuMicrosPerCall.toFixed(1),
      s.wallMs.toFixed(0),
      i === 0 ? '1' : r(i === 1 ? result.layer.cpu : result.aa.cpu),
      i === 0 ? '1' : r(i === 1 ? result.layer.time : result.aa.time),
    ]),
  );
}

if (require.main === module) {
  // `node e2e.js pairs [rounds] [calls]`: the paired rows alone (for profiling: set
  // BENCH_CPU_PROFILE_DIR); `node e2e.js client ...` is one of their client processes.
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'client') void clientProcess(args);
  else if (mode === 'pairs') {
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
