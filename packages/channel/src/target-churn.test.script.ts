/*
 * Creates and closes 2,000 clients over lists of hostnames, in batches, with real calls on some,
 * then prints what the process-wide tables hold and the heap after a full gc, before and after.
 * Run by target-lifetime.loopback.test.ts as `node --expose-gc` (a child process, so that no
 * other test's objects weigh on the heap it measures).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import Module = require('node:module');
import path = require('node:path');

// Resolve the workspace's packages to their sources, as the jest config does.
const packages = path.resolve(__dirname, '../..');
const loader = Module as unknown as {
  _resolveFilename: (request: string, ...rest: unknown[]) => string;
};
const resolve = loader._resolveFilename;
loader._resolveFilename = function (request, ...rest) {
  const match = /^@grpc-resilience\/([a-z-]+)$/.exec(request);
  const target = match ? path.join(packages, match[1], 'src', 'index.ts') : request;
  return resolve.call(this, target, ...rest);
};

const { createResilientClient } = require('./client-factory') as typeof import('./client-factory');
const { openSharedChannels } = require('./shared-channels') as typeof import('./shared-channels');
const { targetSharesStats } = require('./target-shares') as typeof import('./target-shares');
const { registeredAddressSources, heldBalancerMemories } =
  require('@grpc-resilience/load-balancer') as typeof import('@grpc-resilience/load-balancer');
const { startTestBackend, testServiceClient, callUnary } =
  require('@grpc-resilience/testing') as typeof import('@grpc-resilience/testing');

const TOTAL = Number(process.argv[2] ?? 2000);
const BATCH = 100;

function tables() {
  return {
    sources: registeredAddressSources(),
    memories: heldBalancerMemories(),
    channels: openSharedChannels(),
    ...targetSharesStats(),
  };
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

async function churn(port: number, from: number, to: number): Promise<string[]> {
  const Client = testServiceClient();
  const failures: string[] = [];
  for (let start = from; start < to; start += BATCH) {
    const clients = [];
    for (let i = start; i < Math.min(to, start + BATCH); i++) {
      // Three lists and seven breaker configs: distinct sources and shares, each freed in turn.
      const lists = [
        [`localhost:${port}`],
        [`localhost:${port}`, `127.0.0.1:${port}`],
        [`127.0.0.1:${port}`, `localhost:${port}`],
      ];
      clients.push(
        createResilientClient(Client, lists[i % 3], {
          breaker: { consecutiveFailures: 1 + (i % 7) },
        }),
      );
    }
    // A real call on one client in ten, so channels, subchannels and resolvers really start.
    const calls = clients
      .filter((_, i) => i % 10 === 0)
      .map((client) => callUnary(client, 'GetItem', { id: 'x' }, { timeoutMs: 5000 }));
    for (const outcome of await Promise.all(calls))
      if (outcome.status.code !== 0)
        failures.push(`${outcome.status.code} ${outcome.status.details}`);
    for (const client of clients) client.close();
  }
  return failures;
}

async function main(): Promise<void> {
  const backend = await startTestBackend();
  const port = Number(backend.address.split(':').pop());
  const before = tables();
  // Warm up (module state, grpc-js's lazy singletons), then measure the rest.
  const warmFailures = await churn(port, 0, BATCH * 2);
  await new Promise((done) => setTimeout(done, 100));
  const heapBefore = heapAfterGc();
  const failures = await churn(port, BATCH * 2, TOTAL);
  await new Promise((done) => setTimeout(done, 100));
  const heapAfter = heapAfterGc();
  console.log(
    JSON.stringify({
      before,
      after: tables(),
      failures: [...warmFailures, ...failures].slice(0, 5),
      calls: backend.counters.calls,
      heapBefore,
      heapAfter,
    }),
  );
  backend.kill();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
