/*
 * Test backends in a process of their own, serving with the load-report interceptor: one per
 * delay given in argv (`b0` takes the first). Sends `{ addresses }` over IPC once they listen,
 * and ends them when the parent disconnects. Run by load-report.loopback.test.ts, so that the
 * busy event loop the test gives its client does not delay the servers' timers too.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import os = require('node:os');
import path = require('node:path');

// The testing package's sources (it imports no other workspace package), as jest maps them.
const testing = path.resolve(__dirname, '../../testing/src');
const { startTestBackend } = require(testing) as typeof import('@grpc-resilience/testing');
const { createLoadReportInterceptor } = require('./load-report') as typeof import('./load-report');

async function main(): Promise<void> {
  // Servers that stand for machines of their own: ahead of the busy client for a core, where
  // the system allows it, so that their timers and so their reports are about their own work.
  try {
    os.setPriority(-10);
  } catch {
    // Not permitted: the test's margins allow for it.
  }
  const delays = process.argv.slice(2).map(Number);
  const backends = await Promise.all(
    delays.map((delayMs, i) =>
      startTestBackend({
        name: `b${i}`,
        behaviour: { delayMs },
        serverOptions: { interceptors: [createLoadReportInterceptor()] },
      }),
    ),
  );
  process.on('disconnect', () => {
    for (const backend of backends) backend.kill();
    process.exit(0);
  });
  process.send?.({ addresses: backends.map((backend) => backend.address) });
}
void main();
