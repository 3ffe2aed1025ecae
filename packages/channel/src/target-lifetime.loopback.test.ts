import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { leaseTargetForAddresses, registeredAddressSources } from '@grpc-resilience/load-balancer';
import { testServiceClient } from '@grpc-resilience/testing';
import { createResilientClient } from './client-factory';
import { openSharedChannels } from './shared-channels';
import { targetSharesStats } from './target-shares';

interface ChurnReport {
  before: Record<string, number>;
  after: Record<string, number>;
  failures: string[];
  calls: number;
  heapBefore: number;
  heapAfter: number;
}

/** Runs target-churn.test.script.ts in a child Node with --expose-gc; resolves with its report. */
function runChurn(clients: number): Promise<ChurnReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        '--expose-gc',
        '-r',
        'ts-node/register/transpile-only',
        path.join(__dirname, 'target-churn.test.script.ts'),
        String(clients),
      ],
      {
        timeout: 60_000,
        env: {
          ...process.env,
          TS_NODE_COMPILER_OPTIONS: JSON.stringify({
            module: 'commonjs',
            moduleResolution: 'node',
            target: 'ES2022',
          }),
        },
      },
      (error, stdout, stderr) => {
        const line = stdout.split('\n').find((text) => text.startsWith('{'));
        if (!line) return reject(error ?? new Error(stderr || 'no report'));
        resolve(JSON.parse(line) as ChurnReport);
      },
    );
  });
}

it('2,000 clients created and closed over hostname lists leave no source, channel, breaker or budget behind', async () => {
  const report = await runChurn(2000);
  expect(report.failures).toEqual([]);
  expect(report.calls).toBe(200);
  expect(report.before).toEqual({
    sources: 0,
    memories: 0,
    channels: 0,
    targets: 0,
    breakers: 0,
    budgets: 0,
  });
  expect(report.after).toEqual(report.before);
  // 1,800 clients after warm-up. Measured here: under 1 MB of growth with the tables freed
  // (grpc-js's own lazily built state); each leaked client held far more than 2 KB.
  expect(report.heapAfter - report.heapBefore).toBeLessThan(4 * 1024 * 1024);
}, 90_000);

it('clients of one hostname list share one source, released with the last of them', () => {
  const sources = registeredAddressSources();
  const Client = testServiceClient();
  const a = createResilientClient(Client, ['localhost:1', 'localhost:2']);
  const b = createResilientClient(Client, ['localhost:1', 'localhost:2']);
  expect(registeredAddressSources()).toBe(sources + 1);
  expect(targetSharesStats().targets).toBeGreaterThanOrEqual(1);
  a.close();
  a.close(); // twice: released once
  expect(registeredAddressSources()).toBe(sources + 1);
  b.close();
  expect(registeredAddressSources()).toBe(sources);
  expect(openSharedChannels()).toBe(0);
  expect(targetSharesStats()).toEqual({ targets: 0, breakers: 0, budgets: 0 });
});

it('a client that fails to construct holds nothing', () => {
  const sources = registeredAddressSources();
  expect(() =>
    createResilientClient(testServiceClient(), ['localhost:1'], {
      breaker: { consecutiveFailures: -1 },
    }),
  ).toThrow('breaker.consecutiveFailures');
  expect(registeredAddressSources()).toBe(sources);
  expect(targetSharesStats().targets).toBe(0);
  // A lease taken directly is the caller's to release.
  const lease = leaseTargetForAddresses(['localhost:1']);
  expect(registeredAddressSources()).toBe(sources + 1);
  lease.release();
  lease.release();
  expect(registeredAddressSources()).toBe(sources);
});
