import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { DEADLINE_BUDGET_REASON, REASON_METADATA_KEY } from '@grpc-resilience/status';
import { CallContext, runWithCallContext } from './call-context';
import { deadlineToMs, resolveServerContextOptions, type ServerContextOptions } from './options';

/**
 * A grpc-js server interceptor that makes the incoming call's deadline and cancellation the
 * ambient context of its handler (AsyncLocalStorage, so it follows awaits, timers and promise
 * chains): handlers read it with `remainingTimeMs()` / `currentSignal()`, and calls made with
 * {@link createDeadlineInterceptor} inherit it. A request that arrives with less than
 * `minBudgetMs` left is answered DEADLINE_EXCEEDED without running the handler.
 */
export function createServerContextInterceptor(options?: ServerContextOptions): ServerInterceptor {
  const { minBudgetMs } = resolveServerContextOptions(options);

  return (method, call) => {
    const deadline = deadlineToMs(call.getDeadline()) ?? Infinity;
    const context = new CallContext(deadline, method.path);
    if (deadline - Date.now() < minBudgetMs) return refuse(call, method.path, deadline);
    let ended = false;
    return new ServerInterceptingCall(call, {
      start(next) {
        // grpc-js runs the handler synchronously from these callbacks, so running them in the
        // context puts the handler, and everything it awaits, in it.
        next({
          onReceiveMetadata: (metadata, nextMetadata) =>
            runWithCallContext(context, nextMetadata, metadata),
          onReceiveMessage: (message, nextMessage) =>
            runWithCallContext(context, nextMessage, message),
          onReceiveHalfClose: (nextHalfClose) => runWithCallContext(context, nextHalfClose),
          onCancel: () => {
            // grpc-js also reports a close after a normal finish as a cancel.
            if (ended) return;
            ended = true;
            context.cancel(
              Date.now() >= deadline ? 'deadline exceeded' : 'cancelled by the client',
            );
            context.end();
          },
        });
      },
      sendStatus(status, next) {
        ended = true;
        context.end();
        next(status);
      },
    });
  };
}

/** Answers DEADLINE_EXCEEDED without passing the call on: the handler never runs. */
function refuse(
  call: ConstructorParameters<typeof ServerInterceptingCall>[0],
  path: string,
  deadline: number,
): ServerInterceptingCall {
  return new ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMetadata: () => undefined,
        onReceiveMessage: () => undefined,
        onReceiveHalfClose: () => undefined,
      });
      const metadata = new Metadata();
      metadata.set(REASON_METADATA_KEY, DEADLINE_BUDGET_REASON);
      call.sendStatus({
        code: Status.DEADLINE_EXCEEDED,
        details: `${path} not started: ${Math.max(0, deadline - Date.now())} ms left on arrival`,
        metadata,
      });
    },
  });
}
