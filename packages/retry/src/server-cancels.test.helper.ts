import * as grpc from '@grpc/grpc-js';
import { BEHAVIOUR_HEADERS } from '@grpc-resilience/testing';

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
