import type * as grpc from '@grpc/grpc-js';
import type { RetryingCall } from './retrying-call';

/**
 * An interceptor to put just outside the retry interceptor: pushes each logical call's
 * RetryingCall into `calls`, so a test can read its phase and buffered bytes.
 */
export function captureRetryingCalls(calls: RetryingCall[]): grpc.Interceptor {
  return (options, nextCall) => {
    const call = nextCall(options);
    calls.push(call as unknown as RetryingCall);
    return call as grpc.InterceptingCall;
  };
}
