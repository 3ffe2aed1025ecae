import * as grpc from '@grpc/grpc-js';

let statusesSeen = 0;

/**
 * An outermost pass-through interceptor that counts the statuses delivered to the application,
 * so a fault row can prove every call ended exactly once (grpc-js's top-level call drops a second
 * status silently; here it would be counted).
 */
export const countStatuses: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, _listener, next) {
      next(metadata, {
        onReceiveStatus(status, nextStatus) {
          statusesSeen++;
          nextStatus(status);
        },
      });
    },
  });

/** Statuses delivered so far by clients carrying {@link countStatuses}. */
export function statusesDelivered(): number {
  return statusesSeen;
}
