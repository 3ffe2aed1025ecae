import type { CircuitBreakerOptions } from './options';

/**
 * The breaker for a target balanced over several endpoints (the channel factory's default there).
 * One failing endpoint is the balancer's to eject; the target's breaker opens when the target as a
 * whole fails. Counting failures in a row would open it when one dead connection fails all its
 * in-flight calls in the same instant (a blackholed endpoint found by keepalive), refusing calls
 * the healthy endpoints would serve; so it opens on 80% of the last 40 calls failing (at least
 * 10 seen), or 50 in a row. Probing (1 s, backing off to 30 s) is the default.
 */
export const BALANCED_BREAKER_OPTIONS: Readonly<CircuitBreakerOptions> = Object.freeze({
  consecutiveFailures: 50,
  failureRate: Object.freeze({ threshold: 0.8, windowSize: 40, minimumCalls: 10 }),
});
