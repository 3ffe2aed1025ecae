import type { ChannelOptions } from '@grpc/grpc-js';
import {
  booleanOption,
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
   * the decay; Finagle's `decayTime`): of the peak EWMA of measured latency, or, when the
   * servers report their own time, of that time's mean. 100 to 600,000. Default 10,000.
   */
  decayMs?: number;
  /**
   * p2c only: an endpoint that becomes READY after the first (a new pod, a restarted backend)
   * ramps from 10% to full weight over this window, ms. 0 (off) to 600,000. Default 10,000.
   * Envoy: `slow_start_config.slow_start_window`.
   */
  slowStartMs?: number;
  /**
   * p2c only: when fewer than this share of the endpoints are READY and SERVING (health
   * checking), every READY endpoint gets calls (panic mode) rather than the few left. 0 (never)
   * to 1. Default 0: a server that says NOT_SERVING is draining or knows it is sick, and calls
   * sent to it anyway fail or outlive its drain; ejection, which the client only infers, has its
   * own cap (`ejection.maxEjectedShare`). Envoy: `healthy_panic_threshold` (50% there).
   */
  panicThreshold?: number;
  /**
   * p2c only: weigh an endpoint by the server's own time for each call when its answers report
   * it (the `grpc-resilience-server-ms` trailer that `createLoadReportInterceptor` adds, on by
   * default in `resilientServerOptions`), plus the least time its calls spent outside the
   * server lately; answers without a valid report are weighed by the latency the client
   * measures, as with this off. Default true. gRPC: per-call ORCA load reports, read by
   * grpc-js's `weighted_round_robin` (`enable_oob_load_report: false`).
   */
  useServerLoadReports?: boolean;
  /**
   * Client-side health checking (gRFC A17): watch `grpc.health.v1.Health/Watch` for this
   * service on every endpoint (p2c only) and send calls only to SERVING ones. Written as the
   * service config's `healthCheckConfig`, where grpc-js leaves it unused. Default none.
   */
  healthCheck?: { serviceName: string };
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
  const input = objectOption(path, options, LOAD_BALANCING_KEYS);
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
    const slowStartMs = integerOption(`${path}.slowStartMs`, input.slowStartMs, 10_000, {
      min: 0,
      max: 600_000,
    });
    const panicThreshold = numberOption(`${path}.panicThreshold`, input.panicThreshold, 0, {
      min: 0,
      max: 1,
    });
    const useServerLoadReports = booleanOption(
      `${path}.useServerLoadReports`,
      input.useServerLoadReports,
      true,
    );
    registerP2cBalancer();
    policy = {
      [P2C_BALANCER_NAME]: {
        ...ejection,
        decayMs,
        slowStartMs,
        panicThreshold,
        useServerLoadReports,
      },
    };
  } else if (P2C_ONLY.some((key) => input[key] !== undefined)) {
    const key = P2C_ONLY.find((name) => input[name] !== undefined)!;
    throw new ConfigError(`${path}.${key}`, 'applies to policy "p2c" only', input[key]);
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

const LOAD_BALANCING_KEYS = [
  'policy',
  'decayMs',
  'slowStartMs',
  'panicThreshold',
  'useServerLoadReports',
  'healthCheck',
  'ejection',
  'outlierDetection',
];
const P2C_ONLY = [
  'decayMs',
  'slowStartMs',
  'panicThreshold',
  'useServerLoadReports',
  'healthCheck',
];

/**
 * The service config's `healthCheckConfig` (gRFC A17) for `options.healthCheck`, or undefined.
 */
export function healthCheckConfig(
  options: LoadBalancingOptions = {},
  path = 'loadBalancing',
): { serviceName: string } | undefined {
  const input = objectOption(path, options, LOAD_BALANCING_KEYS);
  if (input.healthCheck === undefined) return undefined;
  const check = objectOption(`${path}.healthCheck`, input.healthCheck, ['serviceName']);
  if (typeof check.serviceName !== 'string')
    throw new ConfigError(
      `${path}.healthCheck.serviceName`,
      'must be a service name string ("" for the whole server)',
      check.serviceName,
    );
  return { serviceName: check.serviceName };
}

/** Channel options carrying {@link loadBalancingConfig} as the default service config. */
export function loadBalancingChannelOptions(options?: LoadBalancingOptions): ChannelOptions {
  const health = healthCheckConfig(options);
  return {
    'grpc.service_config': JSON.stringify({
      loadBalancingConfig: loadBalancingConfig(options),
      ...(health ? { healthCheckConfig: health } : {}),
    }),
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
