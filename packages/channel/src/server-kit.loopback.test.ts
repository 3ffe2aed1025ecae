import * as grpc from '@grpc/grpc-js';
import {
  callUnary,
  createLogSink,
  loopbackFixture,
  testServiceDefinition,
  waitUntil,
} from '@grpc-resilience/testing';
import { createResilientServer, resilientServerOptions } from './index';

const loop = loopbackFixture(afterEach);

async function serve(server: grpc.Server, implementation: grpc.UntypedServiceImplementation) {
  loop.onClose(() => server.forceShutdown());
  server.addService(testServiceDefinition(), implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return loop.client(`127.0.0.1:${port}`);
}

it('resilientServerOptions({ admission }) refuses what is over the limit, unrun', async () => {
  const pending: (() => void)[] = [];
  const client = await serve(
    new grpc.Server(resilientServerOptions({ admission: { initialLimit: 1, maxLimit: 1 } })),
    {
      PutItem: (_call: unknown, done: grpc.sendUnaryData<unknown>) =>
        void pending.push(() => done(null, {})),
    },
  );
  const first = callUnary(client, 'PutItem', {}, { timeoutMs: 5000 });
  await waitUntil(() => pending.length === 1);
  const second = await callUnary(client, 'PutItem', {}, { timeoutMs: 5000 });
  expect(second.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(pending).toHaveLength(1);
  pending[0]();
  expect((await first).status.code).toBe(grpc.status.OK);
});

it('createResilientServer: a rejecting handler ends its call and logs once to the kit logger', async () => {
  const sink = createLogSink();
  const server = createResilientServer({
    logger: sink.logger,
    drain: { drainDelayMs: 0 },
    admission: {},
  });
  const client = await serve(server, {
    GetItem: async () => {
      throw new Error('secret');
    },
  });
  const outcome = await callUnary(client, 'GetItem', {}, { timeoutMs: 5000 });
  expect(outcome.status.code).toBe(grpc.status.UNKNOWN);
  expect(outcome.status.details).not.toContain('secret');
  expect(sink.find('handler failed')).toHaveLength(1);
  expect(server.admission?.stats.admitted).toBe(1);
  expect(server.health?.statusOf('grpc_resilience.test.v1.TestService')).toBe('SERVING');
  expect(await server.gracefulShutdown()).toEqual({ forced: false, streamsEnded: 0 });
});
