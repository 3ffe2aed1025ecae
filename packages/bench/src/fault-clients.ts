import * as grpc from '@grpc/grpc-js';
import { Metadata as NiceMetadata, createClientFactory, type Channel } from 'nice-grpc';
import { deadlineMiddleware } from 'nice-grpc-client-middleware-deadline';
import { retryMiddleware } from 'nice-grpc-client-middleware-retry';
import { createResilientClient } from '@grpc-resilience/channel';
import { REASON_METADATA_KEY, RETRY_STOPPED_METADATA_KEY } from '@grpc-resilience/status';
import {
  callServerStream,
  callUnary,
  testServiceClient,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { countStatuses } from './status-count';

/** The clients every retry fault row runs, in the order of the table. */
export const FAULT_CLIENT_KINDS = [
  'raw grpc-js',
  'grpc-js retries+throttling',
  'nice-grpc retry',
  'grpc-resilience',
] as const;
export type FaultClientKind = (typeof FAULT_CLIENT_KINDS)[number];

/** One call's end, whoever made it. */
export interface FaultOutcome {
  code: grpc.status;
  details: string;
  /** `grpc-resilience-reason` of a call the layer refused itself. */
  reason?: string;
  /** `grpc-resilience-retry-stopped`: why the layer stopped retrying. */
  stopped?: string;
  /** The reply's `backend` (unary OK), to check an OK carries a real reply. */
  backend?: string;
  /** The `seq` of each streamed message, in arrival order. */
  seqs: number[];
}

/** A client of the test service under one fault row, with what it really is in words. */
export interface FaultClient {
  kind: FaultClientKind;
  config: string;
  unary(metadata: Record<string, string>, deadlineMs: number): Promise<FaultOutcome>;
  stream(
    count: number,
    metadata: Record<string, string>,
    deadlineMs: number,
  ): Promise<FaultOutcome>;
  close(): void;
}

const TestService = testServiceClient();
/** The layer's defaults and grpc-js's and nice-grpc's set alike: 5 attempts, 100 ms x2 to 2 s. */
const RETRYABLE = ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'];
const ROUND_ROBIN = { loadBalancingConfig: [{ round_robin: {} }] };
const NATIVE_CONFIG = {
  ...ROUND_ROBIN,
  methodConfig: [
    {
      // '/grpc_resilience.test.v1.TestService/GetItem' -> its fully qualified service name.
      name: [{ service: TestService.service.GetItem.path.split('/')[1] }],
      retryPolicy: {
        maxAttempts: 5, // as the layer's default, and gRPC's cap
        initialBackoff: '0.1s',
        maxBackoff: '2s',
        backoffMultiplier: 2,
        retryableStatusCodes: RETRYABLE,
      },
    },
  ],
  retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
};
const NICE_RETRY = {
  retry: true,
  retryMaxAttempts: 4, // retries: 5 attempts, as the layer's default
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  retryableStatuses: [grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED],
};

const CONFIGS: Record<FaultClientKind, string> = {
  'raw grpc-js': "new TestService('ipv4:<addresses>', insecure, round_robin service config)",
  'grpc-js retries+throttling':
    `the same with grpc-js's own retryPolicy (5 attempts, 0.1 s x2 to 2 s, ${RETRYABLE.join(', ')}) ` +
    'and retryThrottling { maxTokens: 10, tokenRatio: 0.1 }',
  'nice-grpc retry':
    'nice-grpc over the raw channel, deadline + retry middlewares (retry: true, 4 retries, ' +
    '100 ms base, 2 s max, UNAVAILABLE and RESOURCE_EXHAUSTED); retries unary calls only',
  'grpc-resilience':
    'createResilientClient(TestService, [addresses]), every default: breaker on (outside the ' +
    'retry), default backoff, 5 attempts, adaptive budget with client-side throttling',
};

function grpcMetadata(record: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(record)) metadata.set(key, value);
  return metadata;
}

function fromGrpc(outcome: CallOutcome): FaultOutcome {
  const { status, response, messages } = outcome;
  const text = (key: string) => {
    const value = status.metadata.get(key)[0];
    return value === undefined ? undefined : String(value);
  };
  return {
    code: status.code,
    details: status.details,
    reason: text(REASON_METADATA_KEY),
    stopped: text(RETRY_STOPPED_METADATA_KEY),
    backend: typeof response?.backend === 'string' ? response.backend : undefined,
    seqs: messages.map((m) => Number(m.seq ?? 0)),
  };
}

function grpcClient(kind: FaultClientKind, client: TestServiceClient): FaultClient {
  return {
    kind,
    config: CONFIGS[kind],
    unary: async (metadata, timeoutMs) =>
      fromGrpc(
        await callUnary(client, 'GetItem', {}, { metadata: grpcMetadata(metadata), timeoutMs }),
      ),
    stream: async (count, metadata, timeoutMs) =>
      fromGrpc(
        await callServerStream(
          client,
          'ListItems',
          { count, prefix: 'i' },
          { metadata: grpcMetadata(metadata), timeoutMs },
        ),
      ),
    close: () => client.close(),
  };
}

interface NiceTestClient {
  GetItem(request: object, options: object): Promise<{ backend?: string }>;
  ListItems(request: object, options: object): AsyncIterable<{ seq?: number }>;
}

function niceClient(addresses: string[]): FaultClient {
  const channel = new grpc.Channel(
    `ipv4:${addresses.join(',')}`,
    grpc.credentials.createInsecure(),
    {
      'grpc.service_config': JSON.stringify(ROUND_ROBIN),
    },
  );
  const client = createClientFactory()
    .use(retryMiddleware)
    .use(deadlineMiddleware)
    .create(TestService.service, channel as unknown as Channel, {
      '*': NICE_RETRY,
    }) as unknown as NiceTestClient;
  const failed = (error: unknown, seqs: number[]): FaultOutcome => {
    const e = error as { code?: number; details?: string };
    return { code: e.code ?? grpc.status.UNKNOWN, details: e.details ?? String(error), seqs };
  };
  return {
    kind: 'nice-grpc retry',
    config: CONFIGS['nice-grpc retry'],
    async unary(metadata, deadlineMs) {
      try {
        const reply = await client.GetItem(
          {},
          { metadata: NiceMetadata(metadata), deadline: deadlineMs },
        );
        return { code: grpc.status.OK, details: '', backend: reply.backend, seqs: [] };
      } catch (error) {
        return failed(error, []);
      }
    },
    async stream(count, metadata, deadlineMs) {
      const seqs: number[] = [];
      try {
        const options = { metadata: NiceMetadata(metadata), deadline: deadlineMs };
        for await (const message of client.ListItems({ count, prefix: 'i' }, options))
          seqs.push(Number(message.seq ?? 0));
        return { code: grpc.status.OK, details: '', seqs };
      } catch (error) {
        return failed(error, seqs);
      }
    },
    close: () => channel.close(),
  };
}

/** A client of `kind` over `addresses`, with the outermost status counter where it applies. */
export function makeFaultClient(kind: FaultClientKind, addresses: string[]): FaultClient {
  const target = `ipv4:${addresses.join(',')}`;
  const insecure = grpc.credentials.createInsecure();
  switch (kind) {
    case 'raw grpc-js':
      return grpcClient(
        kind,
        new TestService(target, insecure, {
          'grpc.service_config': JSON.stringify(ROUND_ROBIN),
          interceptors: [countStatuses],
        }),
      );
    case 'grpc-js retries+throttling':
      return grpcClient(
        kind,
        new TestService(target, insecure, {
          'grpc.service_config': JSON.stringify(NATIVE_CONFIG),
          interceptors: [countStatuses],
        }),
      );
    case 'nice-grpc retry':
      return niceClient(addresses);
    case 'grpc-resilience':
      return grpcClient(
        kind,
        createResilientClient(TestService, addresses, { interceptors: [countStatuses] }),
      );
  }
}
