/*
 * A short-lived process whose only work is one call through createResilientClient, the whole
 * default stack, retried after a 400 ms backoff: a CLI, a batch job, a serverless handler. Run
 * by process-exit-full-stack.loopback.test.ts with the backend's address; prints the retry and
 * the outcome, closes the client and chooses exit code 7. Exits on its own or not at all.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import Module = require('node:module');
import path = require('node:path');

// @grpc-resilience/<name> -> packages/<name>/src/index.ts, as the jest config maps them.
const loader = Module as unknown as {
  _resolveFilename: (request: string, ...rest: unknown[]) => string;
};
const resolveOriginal = loader._resolveFilename;
const sources = `${path.resolve(__dirname, '../..')}/$1/src/index.ts`;
loader._resolveFilename = function (request, ...rest) {
  return resolveOriginal.call(
    this,
    request.replace(/^@grpc-resilience\/([a-z-]+)$/, sources),
    ...rest,
  );
};

const { status } = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const { createResilientClient } = require('@grpc-resilience/channel') as typeof import('./index');
const testing = require('@grpc-resilience/testing') as typeof import('@grpc-resilience/testing');

/** Prints one line of what happened, for the test to read. */
const report = (fact: object) => console.log(JSON.stringify(fact));
const retry = { initialBackoffMs: 400, maxBackoffMs: 400, random: () => 0.9999 };
const client = createResilientClient(testing.testServiceClient(), process.argv[2], {
  retry: { ...retry, onRetry: ({ delayMs }) => report({ retryAfterMs: delayMs }) },
});
const failOnce = { callId: 'only', failCode: status.UNAVAILABLE, failAttempts: 1 };
// The callback is the last work: after it, nothing may keep the process alive.
const done = (error: { code: number } | null, response?: { id: string }) => {
  report({ code: error ? error.code : status.OK, id: response?.id });
  client.close();
  process.exitCode = 7;
};
client.GetItem({ id: 'only' }, testing.behaviourMetadata(failOnce), done);
