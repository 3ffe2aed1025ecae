import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runE2e } from './e2e';
import { runInproc } from './inproc';
import { e2eTables, inprocTable, latencySvg, resilienceTable } from './report';
import { runResilience } from './resilience';

/**
 * `npm run bench` (about 6 min) or `npm run bench -- --quick` (under 2 min). Every figure is a
 * paired ratio or difference against raw grpc-js measured in the same run: these machines differ
 * by up to 10% between identical runs, so absolute numbers mean little alone.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
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
  console.log(
    `grpc-resilience benchmarks (${quick ? 'quick' : 'full'}), Node ${process.version}\n`,
  );

  const inproc = await runInproc(plan.inprocRounds, plan.inprocCalls);
  console.log(`${inprocTable(inproc)}\n`);
  const e2e = await runE2e(plan.e2eRounds, plan.e2eWindowMs);
  console.log(`${e2eTables(e2e)}\n`);
  const resilience = await runResilience(plan.scenarioCalls);
  console.log(`${resilienceTable(resilience.rows, resilience)}\n`);

  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const { latencySamples, ...e2eSummary } = e2e;
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    quick,
    plan,
    inproc,
    e2e: e2eSummary,
    resilience,
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
