import type { ChannelOptions } from '@grpc/grpc-js';
import { ConfigError, isPlainObject } from '@grpc-resilience/status';

/**
 * Refuses channel options that would make grpc-js retry too: a `retryPolicy` or `hedgingPolicy`
 * in `grpc.service_config` while this layer retries would multiply attempts (3 x 3 = 9 and more).
 * grpc-js's transparent retries of never-sent requests stay on: `grpc.enable_retries: 0` would
 * turn them off too, so it is refused as well (grpc-js internal-channel / retrying-call).
 */
export function assertNoNativeRetries(
  channelOptions: ChannelOptions | undefined,
  path = 'channelOptions',
): void {
  if (!channelOptions) return;
  if (channelOptions['grpc.enable_retries'] === 0) {
    throw new ConfigError(
      `${path}["grpc.enable_retries"]`,
      "must stay on: 0 also turns off grpc-js's transparent retries of requests that never left the client",
      0,
    );
  }
  const raw = channelOptions['grpc.service_config'];
  if (raw === undefined) return;
  let config: unknown;
  try {
    config = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch {
    throw new ConfigError(`${path}["grpc.service_config"]`, 'must be valid JSON', raw);
  }
  const methodConfig = isPlainObject(config) ? config.methodConfig : undefined;
  if (!Array.isArray(methodConfig)) return;
  methodConfig.forEach((entry: unknown, index) => {
    for (const policy of ['retryPolicy', 'hedgingPolicy']) {
      if (isPlainObject(entry) && entry[policy] !== undefined) {
        throw new ConfigError(
          `${path}["grpc.service_config"].methodConfig[${index}].${policy}`,
          "must not be set while grpc-resilience retries are on (attempts would be multiplied); set retry: false to use grpc-js's",
          entry[policy],
        );
      }
    }
  });
}
