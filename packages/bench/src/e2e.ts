import * as grpc from '@grpc/grpc-js';
import { createChannel } from 'nice-grpc';
import { createResilientClient } from '@grpc-resilience/channel';
import { behaviourMetadata, testServiceClient } from '@grpc-resilience/testing';
import { startServerProcess } from './bench-server';
import { pairedProcessTable, runPairedProcesses, type PairedProcessResult } from './e2e-processes';
import { abbaOrder, cpuMicros, median, percentile, ratioSummary } from './measure';
import {
  layerVariants,
  nativeRetryVariant,
  niceGrpcVariant,
  rawVariant,
  type Variant,
} from './variants';

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
