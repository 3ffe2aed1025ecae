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
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
  if (only !== undefined && !['inproc', 'e2e', 'faults'].includes(only))
    throw new Error('--only takes inproc, e2e or faults');
  const run = (section: string) => only === undefined || only === section;
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

  const inproc = run('inproc') ? await runInproc(plan.inprocRounds, plan.inprocCalls) : undefined;
  if (inproc) console.log(`${inprocTable(inproc)}\n`);
  const e2e = run('e2e') ? await runE2e(plan.e2eRounds, plan.e2eWindowMs) : undefined;
  if (e2e) console.log(`${e2eTables(e2e)}\n`);
  const resilience = run('faults') ? await runResilience(plan.scenarioCalls) : undefined;
  if (resilience) console.log(`${resilienceTable(resilience.rows, resilience)}\n`);
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
