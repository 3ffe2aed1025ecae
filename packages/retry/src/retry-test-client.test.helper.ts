import type * as grpc from '@grpc/grpc-js';
import { methodsFromService } from '@grpc-resilience/status';
import {
  createTestClient,
  testServiceClient,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createRetryInterceptor, type RetryOptions } from './index';
import type { RetryingCall } from './retrying-call';

const methods = methodsFromService(testServiceClient().service);

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

/** What a test puts around the retry interceptor. */
export interface AroundRetry {
  /** Receives each call's RetryingCall. */
  calls?: RetryingCall[];
  /** Interceptors outside the retry layer (outermost first). */
  above?: grpc.Interceptor[];
  /** Interceptors between the retry layer and the channel. */
  below?: grpc.Interceptor[];
}

/** A test-service client with the retry layer (idempotency from the proto, no budget). */
export function createRetryTestClient(
  address: string,
  retry: RetryOptions = {},
  { calls = [], above = [], below = [] }: AroundRetry = {},
): TestServiceClient {
  return createTestClient(address, {
    interceptors: [
      ...above,
      captureRetryingCalls(calls),
      createRetryInterceptor({ methods, budget: false, ...retry }),
      ...below,
    ],
  });
}
