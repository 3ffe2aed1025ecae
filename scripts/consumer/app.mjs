// An ESM consumer of the packed packages: Node's CommonJS interop must see every named export
// used here (a missing one fails at link time, before any code runs), and one real call runs
// through createResilientClient against a server built with resilientServerOptions().
import { createResilientClient, resilientServerOptions } from '@grpc-resilience/channel';
import { createCircuitBreakerInterceptor } from '@grpc-resilience/circuit-breaker';
import { createDeadlineInterceptor } from '@grpc-resilience/deadline';
import { RedisDedupStore } from '@grpc-resilience/dedup-redis';
import {
  createDedupInterceptor,
  createIdempotencyKeyInterceptor,
} from '@grpc-resilience/idempotency';
import { resolveKeepalive } from '@grpc-resilience/keepalive';
import { loadBalancingChannelOptions } from '@grpc-resilience/load-balancer';
import { createClientLoggingInterceptor } from '@grpc-resilience/logging';
import { createClientMetrics, createServerMetrics } from '@grpc-resilience/metrics';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { ResilientServer, safeImplementation } from '@grpc-resilience/server';
import { classifyStatusCode, ConfigError } from '@grpc-resilience/status';
import { startTestBackend, testServiceClient } from '@grpc-resilience/testing';

const imported = {
  createResilientClient,
  resilientServerOptions,
  createCircuitBreakerInterceptor,
  createDeadlineInterceptor,
  RedisDedupStore,
  createDedupInterceptor,
  createIdempotencyKeyInterceptor,
  resolveKeepalive,
  loadBalancingChannelOptions,
  createClientLoggingInterceptor,
  createClientMetrics,
  createServerMetrics,
  createRetryInterceptor,
  ResilientServer,
  safeImplementation,
  classifyStatusCode,
  ConfigError,
  startTestBackend,
  testServiceClient,
};
for (const [name, value] of Object.entries(imported)) {
  if (typeof value !== 'function') throw new Error(`${name} is not a function in ESM`);
}

const backend = await startTestBackend({ name: 'esm', serverOptions: resilientServerOptions() });
const client = createResilientClient(testServiceClient(), backend.address);
try {
  const reply = await new Promise((resolve, reject) =>
    client.GetItem({ id: 'esm' }, (error, response) => (error ? reject(error) : resolve(response))),
  );
  if (reply.backend !== 'esm') throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
  const named = Object.keys(imported).length;
  console.log(
    `ok   esm app: ${named} named imports; createResilientClient GetItem -> ${reply.backend}`,
  );
} finally {
  client.close();
  backend.kill();
}
