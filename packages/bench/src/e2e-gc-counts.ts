import { fork } from 'node:child_process';
import { join } from 'node:path';
import { startServerProcess } from './bench-server';
import { median } from './measure';
import { table } from './report';
import { MEASURED_END, MEASURED_START } from './e2e-processes';

/**
 * Garbage collection counted per call in the paired rows' client processes (raw grpc-js with the
 * deadline against `createResilientClient`), from V8's `--trace-gc-nvp` lines printed during the
 * measured calls: scavenges, mark-compacts, and bytes promoted to the old generation. Counts, not
 * times: a loaded machine moves them little, so they can show what the CPU ratios cannot (see
 * docs/performance.md, "What a finished call keeps alive").
 *
 * `node packages/bench/dist/e2e-gc-counts.js [rounds=3] [calls=20000] [inFlight=64]`
 */
const VARIANTS = ['raw grpc-js + deadline', 'createResilientClient'];

interface GcCounts {
  scavenges: number;
  markCompacts: number;
  promotedBytes: number;
}

/** Sums the `--trace-gc-nvp` lines between the measured calls' marks. */
export function countGc(output: string): GcCounts {
  const counts: GcCounts = { scavenges: 0, markCompacts: 0, promotedBytes: 0 };
  let measuring = false;
  for (const line of output.split('\n')) {
    if (line === MEASURED_START) measuring = true;
    else if (line === MEASURED_END) measuring = false;
    else if (measuring && line.includes(' gc=')) {
      const kind = / gc=(\w+)/.exec(line)?.[1];
      if (kind === 's') counts.scavenges++;
      else if (kind === 'mc') counts.markCompacts++;
      counts.promotedBytes += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
    }
  }
  return counts;
}

function runCounted(variant: string, address: string, calls: number, inFlight: number) {
  const child = fork(
    join(__dirname, 'e2e-processes.js'),
    ['client', variant, address, String(calls), String(inFlight)],
    {
      execArgv: ['--expose-gc', '--trace-gc-nvp'],
      env: { ...process.env, BENCH_GC_MARKS: '1' },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    },
  );
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise<GcCounts>((resolve, reject) => {
    let failed: number | undefined;
    child.once('error', reject);
    child.once('message', (message: { failed: number }) => (failed = message.failed));
    child.once('exit', (code) => {
      if (failed === undefined) return reject(new Error(`${variant} client exited with ${code}`));
      if (failed > 0) return reject(new Error(`${variant}: ${failed} calls failed`));
      resolve(countGc(output));
    });
  });
}

async function main(rounds: number, calls: number, inFlight: number): Promise<void> {
  const server = await startServerProcess('bare');
  try {
    const runs: GcCounts[][] = VARIANTS.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const i = (k + round) % VARIANTS.length;
        runs[i].push(await runCounted(VARIANTS[i], server.address, calls, inFlight));
      }
    }
    const rows = VARIANTS.map((variant, i) => {
      const promoted = runs[i].map((r) => r.promotedBytes / calls);
      return [
        variant,
        median(runs[i].map((r) => r.scavenges)),
        median(runs[i].map((r) => r.markCompacts)),
        `${median(promoted).toFixed(0)} (${Math.min(...promoted).toFixed(0)}-${Math.max(...promoted).toFixed(0)})`,
      ];
    });
    console.log(
      table(
        [
          `client process, ${calls} calls at ${inFlight}, ${rounds} rounds (medians)`,
          'scavenges',
          'mark-compacts',
          'promoted B/call (range)',
        ],
        rows,
      ),
    );
  } finally {
    server.stop();
  }
}

if (require.main === module) {
  const [rounds, calls, inFlight] = process.argv.slice(2).map(Number);
  void main(rounds || 3, calls || 20_000, inFlight || 64);
}
