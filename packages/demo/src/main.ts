import { LEGEND, renderTable } from './report';
import { runDemo } from './run-demo';

/** `npm run demo [-- --phase-ms 5000 --rate 100]`: about 30 s, then the summary table. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const index = args.indexOf(name);
    const value = index === -1 ? fallback : Number(args[index + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} takes a positive number`);
    return value;
  };
  const phaseMs = flag('--phase-ms', 5000);
  const tty = process.stdout.isTTY;
  console.log(
    `grpc-resilience demo: 6 phases of ${phaseMs / 1000} s, two clusters of 3 backends on 127.0.0.1,`,
  );
  console.log(
    'the same traffic through the layer and through plain grpc-js (round_robin, same 1 s deadline).\n',
  );
  const results = await runDemo({
    phaseMs,
    callsPerSecond: flag('--rate', 100),
    onProgress: tty ? (line) => process.stdout.write(`\r${line}`) : undefined,
    onPhaseEnd: (r) => {
      const line = `${r.name.padEnd(14)} grpc-resilience ${r.layer.successPercent.toFixed(1)}% ok, plain grpc-js ${r.plain.successPercent.toFixed(1)}% ok`;
      process.stdout.write(tty ? `\r${line.padEnd(100)}\n` : `${line}\n`);
    },
  });
  console.log(`\n${renderTable(results)}\n\n${LEGEND}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
