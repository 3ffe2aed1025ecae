/** The `code` of the warnings the layer emits when code it calls on a user's behalf throws. */
export const USER_CODE_WARNING = 'GRPC_RESILIENCE_USER_CODE';

/**
 * Calls code the user gave the layer (a hook, a listener) from inside a call's callbacks. Such
 * code may throw: the error is reported as a process warning (`code` {@link USER_CODE_WARNING})
 * and the call, and whatever else listens, carry on with their outcome intact. Returns what the
 * code returned, or undefined when it threw.
 */
export function callUserCode<A, R = void>(
  what: string,
  fn: ((arg: A) => R) | undefined,
  arg: A,
): R | undefined {
  if (fn === undefined) return undefined;
  try {
    return fn(arg);
  } catch (error) {
    warnUserCode(`${what} threw: ${String(error)}`);
    return undefined;
  }
}

/** Reports code the user gave the layer that misbehaved (threw, or answered the wrong shape). */
export function warnUserCode(message: string): void {
  process.emitWarning(`grpc-resilience: ${message}`, { code: USER_CODE_WARNING });
}
