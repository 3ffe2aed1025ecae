import { status as Status } from '@grpc/grpc-js';
import { methodsFromService } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  createTestClient,
  startTestBackend,
  testServiceClient,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createRetryInterceptor, type GiveUpEvent } from './index';

const methods = methodsFromService(testServiceClient().service);
let backend: TestBackend;
let client: TestServiceClient;
let giveUps: GiveUpEvent[];

beforeEach(async () => {
  backend = await startTestBackend();
  giveUps = [];
  client = createTestClient(backend.address, {
    interceptors: [
      createRetryInterceptor({
        methods,
        initialBackoffMs: 1,
        maxBackoffMs: 1,
        budget: false,
        onGiveUp: (event) => giveUps.push(event),
      }),
    ],
  });
});
afterEach(() => {
  client.close();
  backend.kill();
});

/*
 * Every text grpc-js 1.14 makes up for a request that never left the client (the status
 * package's never-sent patterns), as a server would forward it from a call of its own after it
 * ran: it answered, so the request reached it, whatever the text says.
 */
const FORWARDED: [Status, string][] = [
  [
    Status.UNAVAILABLE,
    'No connection established. Last error: connect ECONNREFUSED 10.0.0.9:50051',
  ],
  [Status.UNAVAILABLE, 'round_robin: No connection established'],
  [Status.UNAVAILABLE, 'Channel closed before call started'],
  [Status.UNAVAILABLE, 'Name resolution failed for target dns:ledger:50051'],
  [Status.UNAVAILABLE, 'Failed to parse DNS address dns:ledger'],
  [Status.UNAVAILABLE, 'Stream refused by server'],
  [Status.RESOURCE_EXHAUSTED, 'Attempted to send message with a size larger than 4194304'],
];

it.each(FORWARDED)(
  'a server forwarding %s "%s" for a non-idempotent method: ran once, not retried',
  async (code, details) => {
    const callId = `${code}-${details}`;
    const outcome = await callUnary(
      client,
      'Charge',
      { account: 'a' },
      {
        metadata: behaviourMetadata({
          callId,
          failCode: code,
          failDetails: details,
          failAfterEffect: true,
        }),
      },
    );
    expect(outcome.status).toMatchObject({ code, details });
    expect(backend.counters.attemptsOf(callId)).toBe(1);
    expect(backend.counters.sideEffects).toBe(1);
    expect(giveUps).toHaveLength(1);
    // A size-limit text is never retried at all; the others because the method is not idempotent.
    expect(giveUps[0].reason).toBe(
      code === Status.UNAVAILABLE ? 'not-idempotent' : 'non-retryable',
    );
  },
);

it('the same texts made up by grpc-js itself are still retried: nothing was sent', async () => {
  const down = createTestClient('127.0.0.1:1', {
    interceptors: [createRetryInterceptor({ methods, initialBackoffMs: 1, maxBackoffMs: 1 })],
  });
  try {
    const outcome = await callUnary(down, 'Charge', {}, { timeoutMs: 2000 });
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(outcome.status.details).toMatch(/No connection established/);
    expect(outcome.status.metadata.get('grpc-resilience-attempts')).toEqual(['5']);
  } finally {
    down.close();
  }
});
