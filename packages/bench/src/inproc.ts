import { testServiceClient } from '@grpc-resilience/testing';
import { abbaOrder, cpuMicros, median } from './measure';
import { StubChannel } from './stub-channel';
import { layerVariants, niceGrpcVariant, type UnaryCall, type Variant } from './variants';

export interface InprocResult {
  variant: string;
  /** Client CPU per call, µs: median over rounds. */
  cpuMicrosPerCall: number;
  /** Added over raw grpc-js, µs: median of the per-round differences. */
  addedMicros: number;
  addedRange: [number, number];
}

function runSequential(call: UnaryCall, count: number): Promise<void> {
  return new Promise((resolve) => {
    let left = count;
    const next = () => (--left < 0 ? resolve() : call(next));
    next();
  });
}

/** Client-side CPU of each variant on a stub channel, in ABBA rounds. */
export async function runInproc(rounds: number, callsPerRun: number): Promise<InprocResult[]> {
  const reply = testServiceClient().service.GetItem.responseSerialize({
    id: 'bench',
    value: 'v',
    backend: 'stub',
  });
  const channel = new StubChannel(reply);
  const variants: Variant[] = [
    ...layerVariants('stub', channel),
    niceGrpcVariant(new StubChannel(reply)),
  ];
  const [raw, ...others] = variants;
  for (const variant of variants) await runSequential(variant.call, callsPerRun); // warm up the JIT
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    const perRound = new Map<string, number[]>();
    for (const variant of abbaOrder(raw, others, round)) {
      global.gc?.();
      const since = process.cpuUsage();
      await runSequential(variant.call, callsPerRun);
      const list = perRound.get(variant.name) ?? [];
      list.push(cpuMicros(since) / callsPerRun);
      perRound.set(variant.name, list);
    }
    for (const [name, values] of perRound) samples.get(name)!.push(median(values));
  }
  for (const variant of variants) variant.close();
  const rawSamples = samples.get(raw.name)!;
  return variants.map((variant) => {
    const values = samples.get(variant.name)!;
    const added = values.map((value, i) => value - rawSamples[i]);
    return {
      variant: variant.name,
      cpuMicrosPerCall: median(values),
      addedMicros: median(added),
      addedRange: [Math.min(...added), Math.max(...added)],
    };
  });
}
