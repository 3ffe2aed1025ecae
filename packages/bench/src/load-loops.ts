import { status as Status } from '@grpc/grpc-js';

/** A call's outcome and when it started (ms epoch). */
export interface Timed<T> {
  at: number;
  outcome: T;
}

/** `calls` calls, `concurrency` at a time; their outcomes in the order they started. */
export async function closedLoop<T>(
  calls: number,
  concurrency: number,
  call: () => Promise<T>,
): Promise<T[]> {
  const outcomes: T[] = new Array(calls);
  let started = 0;
  await Promise.all(
    Array.from({ length: Math.min(calls, concurrency) }, async () => {
      while (started < calls) {
        const i = started++;
        outcomes[i] = await call();
      }
    }),
  );
  return outcomes;
}

/**
 * Open-loop traffic: `calls` calls started on a fixed schedule of `rate` per second, whatever the
 * earlier ones are doing (a late timer starts every call that is due at once); resolves when all
 * have ended.
 */
export async function openLoop<T>(
  rate: number,
  calls: number,
  call: () => Promise<T>,
): Promise<Timed<T>[]> {
  const started: Promise<Timed<T>>[] = [];
  const t0 = Date.now();
  const interval = 1000 / rate;
  while (started.length < calls) {
    const due = Math.min(calls, Math.floor((Date.now() - t0) / interval) + 1);
    while (started.length < due) {
      const at = Date.now();
      started.push(call().then((outcome) => ({ at, outcome })));
    }
    const next = t0 + started.length * interval;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
  return Promise.all(started);
}

/**
 * Open-loop traffic until `until()` holds: a call every `intervalMs` (at most `maxCalls`);
 * resolves when all have ended.
 */
export async function openLoopUntil<T>(
  intervalMs: number,
  until: () => boolean,
  call: () => Promise<T>,
  maxCalls = 10_000,
): Promise<Timed<T>[]> {
  const started: Promise<Timed<T>>[] = [];
  while (!until() && started.length < maxCalls) {
    const at = Date.now();
    started.push(call().then((outcome) => ({ at, outcome })));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return Promise.all(started);
}

/**
 * ms from `from` to the start of the first call from which every call succeeded (status OK), or
 * undefined when the last call failed.
 */
export function recoveryAfter(
  calls: readonly Timed<{ status: { code: number } }>[],
  from: number,
): number | undefined {
  let firstGood: number | undefined;
  for (const { at, outcome } of calls) {
    if (outcome.status.code !== Status.OK) firstGood = undefined;
    else if (firstGood === undefined) firstGood = at;
  }
  return firstGood === undefined ? undefined : Math.max(0, firstGood - from);
}
