import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { createClientFactory, type Channel } from 'nice-grpc';
import { deadlineMiddleware } from 'nice-grpc-client-middleware-deadline';
import { retryMiddleware } from 'nice-grpc-client-middleware-retry';
import { createCircuitBreakerInterceptor } from '@grpc-resilience/circuit-breaker';
import { createResilientClient, resilientOptions } from '@grpc-resilience/channel';
import { createDeadlineInterceptor } from '@grpc-resilience/deadline';
import { createIdempotencyKeyInterceptor } from '@grpc-resilience/idempotency';
import { createClientLoggingInterceptor } from '@grpc-resilience/logging';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { methodsFromService } from '@grpc-resilience/status';
import { testServiceClient, type TestServiceClient } from '@grpc-resilience/testing';

/** Issues one unary GetItem and calls back when it ends, with its error if it failed. */
export type UnaryCall = (done: (error?: unknown) => void) => void;

export interface Variant {
  name: string;
  call: UnaryCall;
  close(): void;
}

const TestService = testServiceClient();
const methods = methodsFromService(TestService.service);
const request = { id: 'bench', value: 'v' };
/** A logger at info that writes nowhere: successes are debug, so it costs what production costs. */
const silentLogger = pino({ level: 'info' }, { write: () => undefined });

type GetItemClient = TestServiceClient & {
  GetItem(request: object, callback: (error: unknown) => void): grpc.Call;
  GetItem(
    request: object,
    options: grpc.CallOptions,
    callback: (error: unknown) => void,
  ): grpc.Call;
};

function clientVariant(name: string, client: grpc.Client): Variant {
  const typed = client as GetItemClient;
  return {
    name,
    call: (done) => void typed.GetItem(request, (error: unknown) => done(error ?? undefined)),
    close: () => client.close(),
  };
}

function grpcVariant(name: string, target: string, options: grpc.ClientOptions): Variant {
  return clientVariant(name, new TestService(target, grpc.credentials.createInsecure(), options));
}

/** Plain grpc-js, no interceptors. */
export function rawVariant(target: string): Variant {
  return grpcVariant('raw grpc-js', target, {});
}

/**
 * Plain grpc-js with the deadline the layer would set (5 s, its default): the anchor that the
 * layer is compared with, since a deadline costs grpc-js a timer and a header on both sides.
 */
export function rawDeadlineVariant(target: string, channel?: grpc.ChannelInterface): Variant {
  const client = new TestService(
    target,
    grpc.credentials.createInsecure(),
    channel ? { channelOverride: channel } : {},
  ) as GetItemClient;
  return {
    name: 'raw grpc-js + deadline',
    call: (done) =>
      void client.GetItem(request, { deadline: Date.now() + 5000 }, (error: unknown) =>
        done(error ?? undefined),
      ),
    close: () => client.close(),
  };
}

/**
 * `createResilientClient` with every default, over a list of addresses (so balancing is on: p2c
 * over them), as a user would build it.
 */
export function resilientClientVariant(addresses: readonly string[]): Variant {
  return clientVariant('createResilientClient', createResilientClient(TestService, addresses));
}

/** Each interceptor alone and the full default stack, on a target or a stub channel. */
export function layerVariants(target: string, channel?: grpc.ChannelInterface): Variant[] {
  const base: grpc.ClientOptions = channel ? { channelOverride: channel } : {};
  const alone = (name: string, interceptor: grpc.Interceptor) =>
    grpcVariant(name, target, { ...base, interceptors: [interceptor] });
  return [
    grpcVariant('raw grpc-js', target, base),
    rawDeadlineVariant(target, channel),
    alone('deadline', createDeadlineInterceptor()),
    alone('idempotency key', createIdempotencyKeyInterceptor({ methods })),
    alone('retry', createRetryInterceptor({ methods })),
    alone('circuit breaker', createCircuitBreakerInterceptor().interceptor),
    alone('logging', createClientLoggingInterceptor({ logger: silentLogger })),
    grpcVariant('full stack', target, {
      ...resilientOptions({ service: TestService.service }),
      ...base,
    }),
    grpcVariant('full stack + logger', target, {
      ...resilientOptions({ service: TestService.service, logger: silentLogger }),
      ...base,
    }),
  ];
}

/** grpc-js's own retries, configured through the service config. */
export function nativeRetryVariant(target: string): Variant {
  const serviceConfig = {
    methodConfig: [
      {
        name: [{ service: 'grpc_resilience.test.v1.TestService' }],
        retryPolicy: {
          maxAttempts: 5, // as the layer's default
          initialBackoff: '0.1s',
          maxBackoff: '2s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  };
  return grpcVariant('grpc-js native retries', target, {
    'grpc.service_config': JSON.stringify(serviceConfig),
  });
}

/** nice-grpc with its retry and deadline middlewares. */
export function niceGrpcVariant(channel: grpc.ChannelInterface): Variant {
  const client = createClientFactory()
    .use(retryMiddleware)
    .use(deadlineMiddleware)
    .create(TestService.service, channel as unknown as Channel, {
      '*': { deadline: 5000, retry: true, retryMaxAttempts: 2 },
    }) as unknown as {
    GetItem(request: object): Promise<unknown>;
  };
  return {
    name: 'nice-grpc retry+deadline',
    call: (done) => void client.GetItem(request).then(done, done),
    close: () => channel.close(),
  };
}
