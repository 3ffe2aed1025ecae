import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runE2e } from './e2e';
import { runInproc } from './inproc';
import { e2eTables, inprocTable, latencySvg, resilienceTable } from './report';
import { runResilience } from './resilience';
import { breakerFaultsTable, runBreakerFaults } from './breaker-faults';
import { retryFaultsTable, runRetryFaults } from './retry-faults';
import { hedgingTable, runHedging } from './hedging';
import { METRICS_PLANS, metricsCostTable, runMetricsCost } from './metrics-cost';
import { balancingTable, runBalancing } from './balancing';
import { runServerLoad } from './server-load';

/** A section of the fault rows: runs its rows (one run when quick) and shows them as text. */
interface FaultSection {
  name: string;
  run(quick: boolean): Promise<{ rows: unknown; text: string }>;
}

function faultSection<R>(
  name: string,
  run: (quick: boolean) => Promise<R>,
  show: (rows: R) => string,
): FaultSection {
  return {
    name,
    run: async (quick) => {
      const rows = await run(quick);
      return { rows, text: show(rows) };
    },
  };
}

/**
 * Issue 13's fault rows, each through raw grpc-js and the layer's real default stack (and the
 * peers where they apply). A new section is one line here; `--faults a,b` runs only those.
 */
const FAULT_SECTIONS: FaultSection[] = [
  faultSection('retry', runRetryFaults, retryFaultsTable),
  faultSection('breaker', runBreakerFaults, breakerFaultsTable),
  // 2,000 calls in the quick form too (a few seconds): over 300 measured calls the p99 is the
  // third slowest, and with 1 call in 20 slow and hedges capped at 5 % of calls, three unhedged
  // slow calls decide it (the quick row read a 1.0x cut where the full one reads 11.8x).
  faultSection('hedging', () => runHedging(2000), hedgingTable),
  faultSection('balancing', runBalancing, balancingTable),
];

/**
 * `npm run bench` (about 8 min) or `npm run bench -- --quick` (under 2 min). Every figure is a
 * paired ratio or difference against raw grpc-js measured in the same run: these machines differ
 * by up to 10% between identical runs, so absolute numbers mean little alone.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
  if (only !== undefined && !['inproc', 'metrics', 'e2e', 'faults', 'server-load'].includes(only))
    throw new Error('--only takes inproc, metrics, e2e, faults or server-load');
  const run = (section: string) => only === undefined || only === section;
  const faultsAt = process.argv.indexOf('--faults');
  const faultNames = faultsAt === -1 ? undefined : process.argv[faultsAt + 1].split(',');
  for (const name of faultNames ?? []) {
    if (!FAULT_SECTIONS.some((s) => s.name === name))
      throw new Error(`--faults takes ${FAULT_SECTIONS.map((s) => s.name).join(', ')}`);
  }
  const plan = quick
    ? { inprocRounds: 5, inprocCalls: 3000, e2eRounds: 3, e2eWindowMs: 1000, scenarioCalls: 400 }
    : {
        inprocRounds: 11,
        inprocCalls: 10000,
        e2eRounds: 8,
        e2eWindowMs: 3000,
        scenarioCalls: 2000,
      };
  const started = Date.now();
  if (only === 'server-load') {
    // Issue 15's admission rows (3x capacity with and without the limiter, then half capacity),
    // through the layer's client; `node packages/bench/dist/server-load.js --help` for its flags.
    console.log(JSON.stringify(await runServerLoad(quick), null, 2));
    return;
  }
  console.log(
    `grpc-resilience benchmarks (${quick ? 'quick' : 'full'}), Node ${process.version}\n`,
  );

  const inproc = run('inproc') ? await runInproc(plan.inprocRounds, plan.inprocCalls) : undefined;
  if (inproc) console.log(`${inprocTable(inproc)}\n`);
  const metricsCost = run('metrics')
    ? runMetricsCost(METRICS_PLANS[quick ? 'quick' : 'full'])
    : undefined;
  if (metricsCost) console.log(`${metricsCostTable(metricsCost)}\n`);
  const e2e = run('e2e') ? await runE2e(plan.e2eRounds, plan.e2eWindowMs) : undefined;
  if (e2e) console.log(`${e2eTables(e2e)}\n`);
  const resilience =
    run('faults') && faultNames === undefined ? await runResilience(plan.scenarioCalls) : undefined;
  if (resilience) console.log(`${resilienceTable(resilience.rows, resilience)}\n`);
  const faults: Record<string, unknown> = {};
  if (run('faults')) {
    for (const section of FAULT_SECTIONS) {
      if (faultNames && !faultNames.includes(section.name)) continue;
      const { rows, text } = await section.run(quick);
      faults[section.name] = rows;
      console.log(`${text}\n`);
    }
  }
  if (only !== undefined) return; // a partial run does not replace the committed results

  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const { latencySamples, ...e2eSummary } = e2e!;
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    quick,
    plan,
    inproc,
    metricsCost,
    e2e: e2eSummary,
    resilience,
    faults,
  };
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(dir, 'latency.svg'), latencySvg(latencySamples));
  console.log(
    `results: ${join(dir, 'latest.json')}, chart: ${join(dir, 'latency.svg')} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
