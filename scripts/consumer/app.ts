// A strict TypeScript consumer of the packed packages (scripts/consumer-check copies it into a
// fresh project outside the workspace). One real call through createResilientClient against a
// server built with resilientServerOptions(), then one call through each package alone.
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { pino } from 'pino';
import { createResilientClient, resilientServerOptions } from '@grpc-resilience/channel';
import { createCircuitBreakerInterceptor } from '@grpc-resilience/circuit-breaker';
import { createDeadlineInterceptor } from '@grpc-resilience/deadline';
import { RedisDedupStore } from '@grpc-resilience/dedup-redis';
import {
  REPLAYED_METADATA_KEY,
  createDedupInterceptor,
  createIdempotencyKeyInterceptor,
  type DedupStore,
} from '@grpc-resilience/idempotency';
import {
  clientKeepaliveChannelOptions,
  resolveKeepalive,
  resolveServerKeepalive,
  serverKeepaliveOptions,
} from '@grpc-resilience/keepalive';
import { loadBalancingChannelOptions, targetForAddresses } from '@grpc-resilience/load-balancer';
import { createClientLoggingInterceptor } from '@grpc-resilience/logging';
import { createClientMetrics } from '@grpc-resilience/metrics';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { ResilientServer } from '@grpc-resilience/server';
import {
  ConfigError,
  classifyStatus,
  methodsFromService,
  statusName,
} from '@grpc-resilience/status';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  behaviourMetadata,
  callUnary,
  createTestClient,
  startTestBackend,
  testServiceClient,
  testServiceDefinition,
  type TestBackend,
} from '@grpc-resilience/testing';

type Check = () => Promise<string>;
const checks: [string, Check][] = [];
const check = (name: string, run: Check): void => {
  checks.push([name, run]);
};
function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** A backend from @grpc-resilience/testing, killed when the check ends. */
async function withBackend<T>(
  options: Parameters<typeof startTestBackend>[0],
  use: (backend: TestBackend) => Promise<T>,
): Promise<T> {
  const backend = await startTestBackend(options);
  try {
    return await use(backend);
  } finally {
    backend.kill();
  }
}

interface HelloReply {
  message: string;
}
type GreeterClient = grpc.Client & {
  SayHello(
    request: { name: string },
    callback: (error: grpc.ServiceError | null, reply?: HelloReply) => void,
  ): grpc.ClientUnaryCall;
};

check('channel: createResilientClient -> resilientServerOptions() server', async () => {
  const definition = protoLoader.loadSync(path.join(__dirname, '..', 'greeter.proto'));
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    consumer: { v1: { Greeter: grpc.ServiceClientConstructor } };
  };
  const { Greeter } = loaded.consumer.v1;
  const server = new grpc.Server(resilientServerOptions());
  server.addService(Greeter.service, {
    SayHello: (
      call: grpc.ServerUnaryCall<{ name: string }, HelloReply>,
      callback: grpc.sendUnaryData<HelloReply>,
    ) => callback(null, { message: `hello ${call.request.name}` }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  // A pino logger with custom levels must type-check as the layer's logger.
  const logger = pino({ level: 'silent', customLevels: { audit: 35 } });
  const client = createResilientClient(Greeter, `127.0.0.1:${port}`, {
    deadline: { defaultMs: 2000 },
    logger,
  }) as unknown as GreeterClient;
  try {
    const reply = await new Promise<HelloReply | undefined>((resolve, reject) =>
      client.SayHello({ name: 'consumer' }, (error, response) =>
        error ? reject(error) : resolve(response),
      ),
    );
    expect(reply?.message === 'hello consumer', `unexpected reply ${JSON.stringify(reply)}`);
    return reply.message;
  } finally {
    client.close();
    server.forceShutdown();
  }
});

check('testing: startTestBackend + callUnary', () =>
  withBackend({ name: 'solo' }, async (backend) => {
    const client = createTestClient(backend.address);
    try {
      const outcome = await callUnary(client, 'GetItem', { id: 'x' });
      expect(outcome.status.code === grpc.status.OK, `status ${outcome.status.code}`);
      expect(outcome.response?.backend === 'solo', 'reply names the backend');
      return `OK from ${backend.address}`;
    } finally {
      client.close();
    }
  }),
);

check('deadline: a hanging call ends DEADLINE_EXCEEDED', () =>
  withBackend({}, async (backend) => {
    const client = createTestClient(backend.address, {
      interceptors: [createDeadlineInterceptor({ defaultMs: 200 })],
    });
    try {
      const metadata = behaviourMetadata({ hang: true });
      const outcome = await callUnary(client, 'GetItem', { id: 'x' }, { metadata });
      const code = outcome.status.code;
      expect(code === grpc.status.DEADLINE_EXCEEDED, `status ${statusName(code)}`);
      return `${statusName(code)} after ${Math.round(outcome.durationMs)} ms`;
    } finally {
      client.close();
    }
  }),
);

check('retry: UNAVAILABLE twice, then OK on attempt 3', () =>
  withBackend({}, async (backend) => {
    const methods = methodsFromService(testServiceClient().service);
    const client = createTestClient(backend.address, {
      interceptors: [createRetryInterceptor({ methods, initialBackoffMs: 10 })],
    });
    try {
      const metadata = behaviourMetadata({
        callId: 'r1',
        failCode: grpc.status.UNAVAILABLE,
        failAttempts: 2,
      });
      const outcome = await callUnary(client, 'GetItem', { id: 'x' }, { metadata });
      expect(outcome.status.code === grpc.status.OK, `status ${statusName(outcome.status.code)}`);
      const attempts = backend.counters.attemptsOf('r1');
      expect(attempts === 3, `${attempts} attempts`);
      return `OK after ${attempts} attempts`;
    } finally {
      client.close();
    }
  }),
);

async function chargeTwiceWithOneKey(store?: DedupStore): Promise<string> {
  return withBackend(
    { serverOptions: { interceptors: [createDedupInterceptor(store ? { store } : {})] } },
    async (backend) => {
      const methods = methodsFromService(testServiceClient().service);
      const client = createTestClient(backend.address, {
        interceptors: [
          createIdempotencyKeyInterceptor({ methods, generateKey: () => 'consumer-key-1' }),
        ],
      });
      try {
        const request = { account: 'a', amountCents: 100 };
        const first = await callUnary(client, 'Charge', request);
        const second = await callUnary(client, 'Charge', request);
        expect(first.status.code === grpc.status.OK, `first ${statusName(first.status.code)}`);
        expect(second.status.code === grpc.status.OK, `second ${statusName(second.status.code)}`);
        expect(backend.counters.sideEffects === 1, `${backend.counters.sideEffects} charges`);
        const replayed = second.status.metadata.get(REPLAYED_METADATA_KEY).length > 0;
        expect(replayed, `no ${REPLAYED_METADATA_KEY} trailer on the repeat`);
        return 'one charge for two calls with one key; the repeat was replayed';
      } finally {
        client.close();
      }
    },
  );
}

check('idempotency: key interceptor + in-memory dedup server', () => chargeTwiceWithOneKey());

check('dedup-redis: RedisDedupStore against a real redis-server', async () => {
  const url = process.env.REDIS_URL;
  expect(url !== undefined, 'REDIS_URL is not set');
  const store = new RedisDedupStore({ redis: url, keyPrefix: `consumer-${process.pid}:` });
  try {
    return `${await chargeTwiceWithOneKey(store)} (${url})`;
  } finally {
    await store.close();
  }
});

check('circuit-breaker: opens after 2 failures, then refuses unsent', () =>
  withBackend({ behaviour: { failCode: grpc.status.UNAVAILABLE } }, async (backend) => {
    const breaker = createCircuitBreakerInterceptor({
      target: 'consumer',
      consecutiveFailures: 2,
    });
    const client = createTestClient(backend.address, { interceptors: [breaker.interceptor] });
    try {
      for (let i = 0; i < 2; i++) await callUnary(client, 'GetItem', { id: 'x' });
      const before = backend.counters.calls;
      const refused = await callUnary(client, 'GetItem', { id: 'x' });
      expect(breaker.stateOf() === 'open', `state ${breaker.stateOf()}`);
      expect(refused.status.code === grpc.status.UNAVAILABLE, 'refusal is UNAVAILABLE');
      expect(backend.counters.calls === before, 'the refused call reached the server');
      return `open; refused with "${refused.status.details}"`;
    } finally {
      client.close();
    }
  }),
);

check('keepalive: default client and server options, one call', async () => {
  const keepalive = resolveKeepalive(undefined);
  const serverOptions = serverKeepaliveOptions(resolveServerKeepalive(undefined));
  return withBackend({ serverOptions }, async (backend) => {
    const client = createTestClient(backend.address, clientKeepaliveChannelOptions(keepalive));
    try {
      const outcome = await callUnary(client, 'GetItem', { id: 'x' });
      expect(outcome.status.code === grpc.status.OK, `status ${statusName(outcome.status.code)}`);
      return `OK, keepaliveTimeMs ${keepalive.keepaliveTimeMs}`;
    } finally {
      client.close();
    }
  });
});

check('load-balancer: two backends behind one target both serve', () =>
  withBackend({ name: 'a' }, (a) =>
    withBackend({ name: 'b' }, async (b) => {
      const target = targetForAddresses([a.address, b.address]);
      const client = createTestClient(target, loadBalancingChannelOptions());
      try {
        const seen = new Set<unknown>();
        for (let i = 0; i < 20 && seen.size < 2; i++) {
          const outcome = await callUnary(client, 'GetItem', { id: String(i) });
          expect(outcome.status.code === grpc.status.OK, `status ${outcome.status.code}`);
          seen.add(outcome.response?.backend);
        }
        expect(seen.size === 2, `only ${[...seen].join(', ')} answered`);
        return `${target} served by ${[...seen].sort().join(' and ')}`;
      } finally {
        client.close();
      }
    }),
  ),
);

check('logging: a pino logger receives the call record', () =>
  withBackend({}, async (backend) => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const client = createTestClient(backend.address, {
      interceptors: [createClientLoggingInterceptor({ logger })],
    });
    try {
      await callUnary(client, 'GetItem', { id: 'x' });
      expect(lines.length > 0, 'no log record');
      return `${lines.length} record(s): ${lines[0]?.trim().slice(0, 120)}`;
    } finally {
      client.close();
    }
  }),
);

check(
  'server: a throwing handler ends its call UNKNOWN with a ref; the next call is served',
  async () => {
    const server = new ResilientServer({ handlerErrors: { logger: pino({ level: 'silent' }) } });
    let calls = 0;
    server.addService(testServiceDefinition(), {
      GetItem(
        call: grpc.ServerUnaryCall<{ id: string }, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) {
        if (++calls === 1) throw new Error('db password=hunter2 rejected'); // a handler's bug
        callback(null, { id: call.request.id });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = createTestClient(`127.0.0.1:${port}`);
    try {
      const failed = await callUnary(client, 'GetItem', { id: 'a' }, { timeoutMs: 2000 });
      expect(failed.status.code === grpc.status.UNKNOWN, `got ${statusName(failed.status.code)}`);
      expect(!failed.status.details.includes('hunter2'), 'the error text reached the client');
      const served = await callUnary(client, 'GetItem', { id: 'b' }, { timeoutMs: 2000 });
      expect(served.status.code === grpc.status.OK, 'the server stopped serving');
      return `${failed.status.details}; then ${statusName(served.status.code)}`;
    } finally {
      client.close();
      server.forceShutdown();
    }
  },
);

/** A reader the check collects from by hand. */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

check('metrics: a call through createClientMetrics shows in grpc.client.call.duration', () =>
  withBackend({}, async (backend) => {
    const reader = new CollectingReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const metrics = createClientMetrics({
      meterProvider,
      target: backend.address,
      methods: testServiceClient().service,
    });
    expect(metrics !== undefined, 'no client metrics with a meter provider');
    const client = createTestClient(backend.address, {
      interceptors: [metrics.callInterceptor, metrics.attemptInterceptor],
    });
    try {
      const outcome = await callUnary(client, 'GetItem', { id: 'x' }, { timeoutMs: 2000 });
      expect(outcome.status.code === grpc.status.OK, 'the call failed');
      const { resourceMetrics } = await reader.collect();
      const names = resourceMetrics.scopeMetrics.flatMap((scope) =>
        scope.metrics.map((metric) => metric.descriptor.name),
      );
      expect(names.includes('grpc.client.call.duration'), `instruments: ${names.join(', ')}`);
      return names.filter((name) => name.startsWith('grpc.client.')).join(', ');
    } finally {
      client.close();
      await meterProvider.shutdown();
    }
  }),
);

check('status: classify a real UNAVAILABLE and refuse a bad config', () =>
  withBackend({ behaviour: { failCode: grpc.status.UNAVAILABLE } }, async (backend) => {
    const client = createTestClient(backend.address);
    try {
      const outcome = await callUnary(client, 'GetItem', { id: 'x' });
      const classified = classifyStatus(outcome.status);
      expect(classified.breakerFailure, 'UNAVAILABLE from the server counts against it');
      let refused: unknown;
      try {
        createRetryInterceptor({ maxAttempts: 0 });
      } catch (error) {
        refused = error;
      }
      expect(refused instanceof ConfigError, 'retry.maxAttempts 0 is not a ConfigError');
      return `${statusName(outcome.status.code)} fault=${classified.fault}; ${refused.message}`;
    } finally {
      client.close();
    }
  }),
);

async function main(): Promise<void> {
  let failed = 0;
  for (const [name, run] of checks) {
    try {
      console.log(`ok   ${name}: ${await run()}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${name}: ${error instanceof Error ? error.stack : String(error)}`);
    }
  }
  console.log(`ts app: ${checks.length - failed} of ${checks.length} checks passed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
