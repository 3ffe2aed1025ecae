import type { ChannelOptions } from '@grpc/grpc-js';
import {
  ConfigError,
  integerOption,
  isPlainObject,
  numberOption,
  objectOption,
} from '@grpc-resilience/status';
import { BALANCER_NAME, registerEjectingRoundRobin } from './balancer';
import { DEFAULT_EJECTION, type EjectionConfig } from './ejector';

/** Options of {@link loadBalancingChannelOptions}. */
export interface LoadBalancingOptions {
  /** Consecutive-failure ejection, or false for plain round_robin. Default on (see defaults). */
  ejection?: false | Partial<EjectionConfig>;
  /**
   * grpc-js's outlier_detection config (success-rate / failure-percentage; for 5+ hosts) to wrap
   * the round robin in. Default none.
   */
  outlierDetection?: Record<string, unknown>;
}

/**
 * The `grpc.service_config` that makes a channel balance every call round-robin over all the
 * target's addresses (`loadBalancingConfig`, not the legacy `loadBalancingPolicy` field, which
 * grpc-js parses and ignores), with ejection of failing endpoints.
 */
export function loadBalancingConfig(
  options: LoadBalancingOptions = {},
  path = 'loadBalancing',
): object[] {
  const input = objectOption(path, options, ['ejection', 'outlierDetection']);
  let policy: object;
  if (input.ejection === false) {
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
