/** The `code` of the warnings the layer emits when code it calls on a user's behalf throws. */
export const USER_CODE_WARNING = 'GRPC_RESILIENCE_USER_CODE';

/**
 * Calls code the user gave the layer (a hook, a listener) from inside a call's callbacks. Such
 * code may throw: the error is reported as a process warning (`code` {@link USER_CODE_WARNING})
 * and the call, and whatever else listens, carry on with their outcome intact.
 */
export function callUserCode<A>(what: string, fn: ((arg: A) => void) | undefined, arg: A): void {
  if (fn === undefined) return;
  try {
    fn(arg);
  } catch (error) {
    process.emitWarning(`grpc-resilience: ${what} threw: ${String(error)}`, {
      code: USER_CODE_WARNING,
    });
  }
}
