import { DEFAULT_CALL_DEADLINE_MS } from './configs';
import { DEFAULT_METRICS_PORT, METRICS_PORT_ENV } from './metrics-endpoint';
import { layerSuccessPercent } from './report';
import { DEFAULT_RESULTS_DIR, renderHeader, renderSummary, writeResults } from './results';
import { runDemo } from './run-demo';

/**
 * `npm run demo [-- --phase-ms 5000 --recovery-ms 35000 --rate 100 --out DIR --metrics-port N]`:
 * about 75 s, then the report, also written with the chart to packages/demo/results (or DIR).
 * The layer's metrics are at http://127.0.0.1:9464/metrics while it runs (`--metrics-port`, or
 * DEMO_METRICS_PORT; 0 for any free port; a port in use falls back to a free one).
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const index = args.indexOf(name);
    const value = index === -1 ? fallback : Number(args[index + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} takes a positive number`);
    return value;
  };
  const outIndex = args.indexOf('--out');
  const out = outIndex === -1 ? DEFAULT_RESULTS_DIR : args[outIndex + 1];
  if (!out) throw new Error('--out takes a directory');
  const callsPerSecond = flag('--rate', 100);
  const portIndex = args.indexOf('--metrics-port');
  // Checked by the endpoint: not an integer from 0 to 65535 is a ConfigError for `metricsPort`.
  // An empty variable is an unset one, not port 0.
  const metricsPort = Number(
    portIndex === -1 ? process.env[METRICS_PORT_ENV] || DEFAULT_METRICS_PORT : args[portIndex + 1],
  );
  const deadlineMs = DEFAULT_CALL_DEADLINE_MS;
  const tty = process.stdout.isTTY === true;
  console.log(`${renderHeader(callsPerSecond, deadlineMs)}\n`);
  const run = await runDemo({
    phaseMs: flag('--phase-ms', 5000),
    recoveryMs: flag('--recovery-ms', 35_000),
    callsPerSecond,
    deadlineMs,
    metricsPort,
    onMetricsEndpoint: ({ url, busyPort }) =>
      console.log(
        `${busyPort === undefined ? '' : `port ${busyPort} is in use: `}` +
          `the layer's metrics: curl ${url} while the demo runs\n`,
      ),
    onPhaseStart: (phase, index, count) =>
      console.log(
        `[${index + 1}/${count}] ${phase.name}, ${(phase.durationMs / 1000).toFixed(1)} s: ${phase.fault}`,
      ),
    // A live line on a terminal; in a CI log, a line every 5 s of a phase.
    onTick: (line, _phase, elapsedMs) => {
      if (tty) process.stdout.write(`\r  ${line}`.padEnd(100));
      else if (Math.round(elapsedMs / 1000) % 5 === 0) console.log(`  ${line}`);
    },
    onPhaseEnd: (r) => {
      const line = `  done: grpc-resilience ${layerSuccessPercent(r).toFixed(1)}% ok, plain grpc-js ${r.plain.successPercent.toFixed(1)}% ok`;
      process.stdout.write(tty ? `\r${line.padEnd(100)}\n` : `${line}\n`);
    },
  });
  const written = writeResults(out, run, callsPerSecond, deadlineMs);
  console.log(`\n${renderSummary(run)}`);
  console.log(`written: ${written.join(', ')}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
