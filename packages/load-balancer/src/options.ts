import type { ChannelOptions } from '@grpc/grpc-js';
import {
  ConfigError,
  enumOption,
  integerOption,
  isPlainObject,
  numberOption,
  objectOption,
} from '@grpc-resilience/status';
import { BALANCER_NAME, registerEjectingRoundRobin } from './balancer';
import { DEFAULT_EJECTION, type EjectionConfig } from './ejector';
import { DEFAULT_DECAY_MS } from './endpoint-load';
import { P2C_BALANCER_NAME, registerP2cBalancer } from './p2c-balancer';

/** Options of {@link loadBalancingChannelOptions}. */
export interface LoadBalancingOptions {
  /**
   * `'p2c'`: power of two choices on peak-EWMA load (Finagle's `P2CPeakEwma`, Linkerd's
   * balancer, Envoy's `LEAST_REQUEST` with choice_count 2). `'round_robin'`: grpc-js's own
   * rotation. Default `'p2c'`.
   */
  policy?: 'p2c' | 'round_robin';
  /**
   * p2c only: how fast the latency estimate forgets a slow observation, ms (time constant of
   * the decay; Finagle's `decayTime`). 100 to 600,000. Default 10,000.
   */
  decayMs?: number;
  /** Consecutive-failure ejection, or false for none (plain round_robin). Default on (see defaults). */
  ejection?: false | Partial<EjectionConfig>;
  /**
   * grpc-js's outlier_detection config (success-rate / failure-percentage; for 5+ hosts) to wrap
   * the round robin in. Default none.
   */
  outlierDetection?: Record<string, unknown>;
}

/**
 * The `grpc.service_config` that makes a channel balance every call over all the target's
 * addresses, by load (p2c, the default) or in turn (round_robin) (`loadBalancingConfig`, not the legacy `loadBalancingPolicy` field, which
 * grpc-js parses and ignores), with ejection of failing endpoints.
 */
export function loadBalancingConfig(
  options: LoadBalancingOptions = {},
  path = 'loadBalancing',
): object[] {
  const input = objectOption(path, options, ['policy', 'decayMs', 'ejection', 'outlierDetection']);
  const kind = enumOption(`${path}.policy`, input.policy, 'p2c', ['p2c', 'round_robin']);
  let policy: object;
  if (kind === 'p2c') {
    const decayMs = integerOption(`${path}.decayMs`, input.decayMs, DEFAULT_DECAY_MS, {
      min: 100,
      max: 600_000,
    });
    // Without ejection, no endpoint is ever ejected: a share of 0.
    const ejection =
      input.ejection === false
        ? { ...DEFAULT_EJECTION, maxEjectedShare: 0 }
        : resolveEjection(`${path}.ejection`, input.ejection);
    registerP2cBalancer();
    policy = { [P2C_BALANCER_NAME]: { ...ejection, decayMs } };
  } else if (input.decayMs !== undefined) {
    throw new ConfigError(`${path}.decayMs`, 'applies to policy "p2c" only', input.decayMs);
  } else if (input.ejection === false) {
    policy = { round_robin: {} };
  } else {
    registerEjectingRoundRobin();
    policy = { [BALANCER_NAME]: resolveEjection(`${path}.ejection`, input.ejection) };
  }
  if (input.outlierDetection !== undefined) {
    if (!isPlainObject(input.outlierDetection)) {
      throw new ConfigError(
        `${path}.outlierDetection`,
        'must be an outlier_detection config object',
        input.outlierDetection,
      );
    }
    policy = { outlier_detection: { ...input.outlierDetection, child_policy: [policy] } };
  }
  return [policy];
}

/** Channel options carrying {@link loadBalancingConfig} as the default service config. */
export function loadBalancingChannelOptions(options?: LoadBalancingOptions): ChannelOptions {
  return {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: loadBalancingConfig(options) }),
  };
}

function resolveEjection(path: string, value: unknown): EjectionConfig {
  const input = objectOption(path, value, [
    'consecutiveFailures',
    'baseEjectionMs',
    'maxEjectionMs',
    'maxEjectedShare',
  ]);
  const baseEjectionMs = integerOption(
    `${path}.baseEjectionMs`,
    input.baseEjectionMs,
    DEFAULT_EJECTION.baseEjectionMs,
    { min: 1, max: 3_600_000 },
  );
  const maxEjectionMs = integerOption(
    `${path}.maxEjectionMs`,
    input.maxEjectionMs,
    Math.max(baseEjectionMs, DEFAULT_EJECTION.maxEjectionMs),
    {
      min: baseEjectionMs,
      max: 3_600_000,
    },
  );
  return {
    consecutiveFailures: integerOption(
      `${path}.consecutiveFailures`,
      input.consecutiveFailures,
      DEFAULT_EJECTION.consecutiveFailures,
      {
        min: 1,
        max: 10_000,
      },
    ),
    baseEjectionMs,
    maxEjectionMs,
    maxEjectedShare: numberOption(
      `${path}.maxEjectedShare`,
      input.maxEjectedShare,
      DEFAULT_EJECTION.maxEjectedShare,
      { min: 0, max: 1 },
    ),
  };
}
