import {
  booleanOption,
  ConfigError,
  USER_CODE_WARNING,
  functionOption,
  objectOption,
} from '@grpc-resilience/status';
import type { DrainResult } from './drain';

/** Options of {@link drainOnSignal}. */
export interface DrainOnSignalOptions {
  /** Signals that start the drain. Default `['SIGTERM', 'SIGINT']` (Kubernetes sends SIGTERM). */
  signals?: readonly NodeJS.Signals[];
  /**
   * Exit the process once drained: code 0, or 1 when the grace ran out. Default true, since a
   * listener for SIGTERM replaces Node's own exit on it and a pool or timer elsewhere could
   * otherwise keep the process up until Kubernetes kills it.
   */
  exit?: boolean;
  /** Runs after the drain, before the exit (close pools, flush logs); may be async or throw. */
  onDrained?: (result: DrainResult) => void | Promise<void>;
}

/**
 * Starts `drain` on the first of `signals`; a second signal during the drain exits at once
 * (code 1), as an operator pressing Ctrl-C twice expects. Returns a function that removes the
 * listeners.
 */
export function drainOnSignal(
  drain: () => Promise<DrainResult>,
  options: DrainOnSignalOptions = {},
): () => void {
  const input = objectOption('', options, ['signals', 'exit', 'onDrained']);
  const signals = input.signals ?? ['SIGTERM', 'SIGINT'];
  if (!Array.isArray(signals) || signals.some((signal) => !/^SIG[A-Z0-9]+$/.test(String(signal))))
    throw new ConfigError('signals', 'must be an array of signal names such as "SIGTERM"', signals);
  const exit = booleanOption('exit', input.exit, true);
  const onDrained = functionOption<(result: DrainResult) => void | Promise<void>>(
    'onDrained',
    input.onDrained,
    undefined as never,
  );
  let draining = false;
  const onSignal = () => {
    if (draining) {
      if (exit) process.exit(1);
      return;
    }
    draining = true;
    void drain().then(async (result) => {
      try {
        await onDrained?.(result);
      } catch (error) {
        process.emitWarning(`grpc-resilience: onDrained threw: ${String(error)}`, {
          code: USER_CODE_WARNING,
        });
      }
      if (exit) process.exit(result.forced ? 1 : 0);
    });
  };
  for (const signal of signals as NodeJS.Signals[]) process.on(signal, onSignal);
  return () => {
    for (const signal of signals as NodeJS.Signals[]) process.off(signal, onSignal);
  };
}
