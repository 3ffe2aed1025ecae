import { Session } from 'node:inspector/promises';
import { testServiceClient } from '@grpc-resilience/testing';
import { median } from './measure';
import { StubChannel } from './stub-channel';
import { layerVariants, type UnaryCall } from './variants';

/**
 * Heap allocated per call, a figure that does not depend on the machine's load: V8's sampling
 * heap profiler (one sample per 256 B on average, objects the GC already collected included)
 * around sequential unary calls of the bench's layer variants on its stub channel, so only the
 * client-side JS of grpc-js and of the interceptors allocates. Median of `repeats` runs.
 *
 * `node --expose-gc packages/bench/dist/alloc-per-call.js [calls=20000] [repeats=3] [top=0]
 *  [variant names, comma-separated]`; with `top` > 0 it also lists the functions that allocate
 * most per call in each variant (self bytes, from the last run).
 */

const DEFAULT_VARIANTS = ['raw grpc-js + deadline', 'full stack', 'retry'];
const SAMPLING_INTERVAL_BYTES = 256;
const WARM_UP_CALLS = 5000;

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

function runSequential(call: UnaryCall, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = count;
    const next = (error?: unknown): void => {
      if (error !== undefined)
        return reject(error instanceof Error ? error : new Error(String(error)));
      if (--left < 0) return resolve();
      call(next);
    };
    next();
  });
}

/** Self bytes per allocation site (function, file, line), summed over the tree. */
function bySite(node: SamplingNode, into = new Map<string, number>()): Map<string, number> {
  const { functionName, url, lineNumber } = node.callFrame;
  const site = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  if (node.selfSize > 0) into.set(site, (into.get(site) ?? 0) + node.selfSize);
  for (const child of node.children) bySite(child, into);
  return into;
}

async function allocatedBytes(
  session: Session,
  call: UnaryCall,
  calls: number,
): Promise<{ bytes: number; head: SamplingNode }> {
  global.gc?.();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await runSequential(call, calls);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: SamplingNode };
  };
  let bytes = 0;
  for (const size of bySite(profile.head).values()) bytes += size;
  return { bytes, head: profile.head };
}

async function main(): Promise<void> {
  const [callsArg, repeatsArg, topArg, namesArg] = process.argv.slice(2);
  const calls = Number(callsArg ?? 20000);
  const repeats = Number(repeatsArg ?? 3);
  const top = Number(topArg ?? 0);
  const names = namesArg ? namesArg.split(',') : DEFAULT_VARIANTS;
  const reply = testServiceClient().service.GetItem.responseSerialize({
    id: 'bench',
    value: 'v',
    backend: 'stub',
  });
  const variants = layerVariants('stub', new StubChannel(reply));
  const chosen = names.map((name) => {
    const variant = variants.find((v) => v.name === name);
    if (!variant)
      throw new Error(`no variant "${name}"; have: ${variants.map((v) => v.name).join(', ')}`);
    return variant;
  });
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  try {
    for (const variant of chosen) await runSequential(variant.call, WARM_UP_CALLS);
    const samples = new Map<string, number[]>(chosen.map((v) => [v.name, []]));
    const lastHeads = new Map<string, SamplingNode>();
    // Variants interleaved per repeat, so a drift in the process touches each alike.
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const variant of chosen) {
        const { bytes, head } = await allocatedBytes(session, variant.call, calls);
        samples.get(variant.name)!.push(bytes / calls);
        lastHeads.set(variant.name, head);
      }
    }
    console.log(
      `heap allocated per call (sampling every ${SAMPLING_INTERVAL_BYTES} B, GC'd objects included), ` +
        `${calls} sequential calls on the stub channel, median of ${repeats}, Node ${process.version}`,
    );
    for (const [name, values] of samples) {
      const kb = (bytes: number) => (bytes / 1024).toFixed(2);
      console.log(
        `  ${name.padEnd(26)} ${kb(median(values))} KB/call  (runs: ${values.map(kb).join(', ')})`,
      );
    }
    if (top > 0) {
      for (const [name, head] of lastHeads) {
        console.log(`\n  ${name}: top ${top} allocation sites, bytes per call`);
        const sites = [...bySite(head)].sort((a, b) => b[1] - a[1]).slice(0, top);
        for (const [site, bytes] of sites)
          console.log(`    ${(bytes / calls).toFixed(0).padStart(6)}  ${site}`);
      }
    }
  } finally {
    await session.post('HeapProfiler.disable');
    session.disconnect();
    for (const variant of variants) variant.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
