import * as grpc from '@grpc/grpc-js';
import { resilientServerOptions } from '@grpc-resilience/channel';
import { ConfigError, readDedupScope } from '@grpc-resilience/status';
import { callUnary, createTestClient, testServiceDefinition } from '@grpc-resilience/testing';
import { RedisDedupStore } from './index';
import { startTestRedis, type TestRedis } from './redis-server.test.helper';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('resilientServerOptions({ dedup: { store } })', () => {
  it('serves with a RedisDedupStore and says so: grpc-resilience-dedup-scope: shared', async () => {
    const store = new RedisDedupStore({ redis: redis.client, keyPrefix: '{kit}:' });
    const server = new grpc.Server(resilientServerOptions({ dedup: { store } }));
    server.addService(testServiceDefinition(), {
      Charge: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, { chargeId: 'c' }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = createTestClient(`127.0.0.1:${port}`);
    try {
      const outcome = await callUnary(client, 'Charge', {});
      expect(outcome.status.code).toBe(grpc.status.OK);
      expect(readDedupScope(outcome.headers)).toBe('shared');
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it('validates the dedup options, naming each', () => {
    expect(() => resilientServerOptions({ dedup: { store: {} as never } })).toThrow(
      /dedup.store must be a DedupStore/,
    );
    expect(() => resilientServerOptions({ dedup: { maxOutcomeBytes: 1.5 } })).toThrow(ConfigError);
    expect(() => resilientServerOptions({ dedup: { scopeOf: 1 as never } })).toThrow(
      /dedup.scopeOf must be a function/,
    );
    expect(() => resilientServerOptions({ dedup: { ttlMs: 5 } as never })).toThrow(
      /dedup.ttlMs is not a known option/,
    );
  });
});
