import * as grpc from '@grpc/grpc-js';
import {
  BEHAVIOUR_HEADERS,
  extraStatusCount,
  startTestBackend,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';

/** What {@link countServerCancels} saw. */
export interface ServerCancels {
  /** Put it in the backend's `serverOptions.interceptors`. */
  readonly interceptor: grpc.ServerInterceptor;
  /** The call id (`x-test-call-id`, '' when none) of each attempt cancelled before it answered. */
  readonly cancelled: string[];
}

/**
 * A server interceptor that records the attempts a client cancelled while the server was still
 * working on them. grpc-js 1.14 notifies a cancel on every stream close, answered calls
 * included, so the test backend's `cancellations` counts those too; this one does not.
 */
export function countServerCancels(): ServerCancels {
  const cancelled: string[] = [];
  const interceptor: grpc.ServerInterceptor = (_method, call) => {
    let answered = false;
    let callId = '';
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            callId = String(metadata.get(BEHAVIOUR_HEADERS.callId)[0] ?? '');
            nextMetadata(metadata);
          },
          onCancel() {
            if (!answered) cancelled.push(callId);
          },
        });
      },
      sendStatus(status, nextStatus) {
        answered = true;
        nextStatus(status);
      },
    });
  };
  return { interceptor, cancelled };
}

/** A test file's backend that counts true cancels, and the clients to close after each test. */
export interface CountingBackend {
  backend: TestBackend;
  cancels: ServerCancels;
  /** Clients made by the test: closed after it. */
  readonly clients: TestServiceClient[];
}

/**
 * Registers `beforeEach`/`afterEach` that start a test backend counting true cancels, and after
 * each test close its clients, kill the backend and check that no call delivered a second
 * status. Read the fields inside tests (they change per test).
 */
export function useCountingBackend(): CountingBackend {
  const fixture = { clients: [] } as unknown as CountingBackend;
  let extraBefore = 0;
  beforeEach(async () => {
    fixture.cancels = countServerCancels();
    fixture.backend = await startTestBackend({
      serverOptions: { interceptors: [fixture.cancels.interceptor] },
    });
    extraBefore = extraStatusCount();
  });
  afterEach(() => {
    for (const client of fixture.clients.splice(0)) client.close();
    fixture.backend.kill();
    expect(extraStatusCount()).toBe(extraBefore);
  });
  return fixture;
}

/**
 * An interceptor to put just below the retry layer: when an attempt reports the status of its
 * per-attempt timeout, runs `onCut` (a test cancels the call there, the one moment the cut
 * attempt's status is pending), then passes the status on.
 */
export function onAttemptCut(onCut: () => void): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            if (status.details.startsWith('per-attempt timeout')) onCut();
            nextStatus(status);
          },
        });
      },
    });
}
