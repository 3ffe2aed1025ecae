/*
 * A short-lived process whose only work is one call that is retried after a 400 ms backoff, as
 * in a CLI, a batch job or a serverless handler. Run by process-exit.loopback.test.ts with the
 * backend's address; prints the call's outcome and chooses exit code 7.
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

const { status } = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const { createRetryInterceptor } = require('@grpc-resilience/retry') as typeof import('./index');
const { behaviourMetadata, createTestClient } =
  require('@grpc-resilience/testing') as typeof import('@grpc-resilience/testing');

const client = createTestClient(process.argv[2], {
  interceptors: [
    createRetryInterceptor({
      methods: { '/grpc_resilience.test.v1.TestService/GetItem': { idempotent: true } },
      initialBackoffMs: 400,
      maxBackoffMs: 400,
      random: () => 0.9999,
      onRetry: (event) => console.log(JSON.stringify({ retryAfterMs: event.delayMs })),
    }),
  ],
});
client.GetItem(
  { id: 'only' },
  behaviourMetadata({ callId: 'only', failCode: status.UNAVAILABLE, failAttempts: 1 }),
  { deadline: Date.now() + 10_000 },
  (error: { code: number } | null, response?: { id: string }) => {
    console.log(JSON.stringify({ code: error?.code ?? status.OK, id: response?.id }));
    client.close();
    process.exitCode = 7;
  },
);
