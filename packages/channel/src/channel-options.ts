import type { ChannelOptions } from '@grpc/grpc-js';
import { clientKeepaliveChannelOptions, type ResolvedKeepalive } from '@grpc-resilience/keepalive';
import { healthCheckConfig, loadBalancingConfig } from '@grpc-resilience/load-balancer';
import { ConfigError, integerOption, isPlainObject } from '@grpc-resilience/status';

/**
 * The channel options of a resilient client: keepalive, message size limits, the service config
 * with round-robin (when balancing), and the caller's own options over them. A service config of
 * the caller's is kept; only a `loadBalancingConfig` is added to it when it has none.
 */
export function composeChannelOptions(
  input: Record<string, unknown>,
  forAddresses: boolean,
  keepalive: ResolvedKeepalive,
): ChannelOptions {
  if (input.channelOptions !== undefined && !isPlainObject(input.channelOptions)) {
    throw new ConfigError(
      'channelOptions',
      'must be an object of grpc-js channel options',
      input.channelOptions,
    );
  }
  const user = (input.channelOptions ?? {}) as ChannelOptions;
  const options: ChannelOptions = { ...clientKeepaliveChannelOptions(keepalive) };
  setMessageLimit(
    options,
    'grpc.max_send_message_length',
    'maxSendMessageBytes',
    input.maxSendMessageBytes,
  );
  setMessageLimit(
    options,
    'grpc.max_receive_message_length',
    'maxReceiveMessageBytes',
    input.maxReceiveMessageBytes,
  );
  Object.assign(options, user);
  let serviceConfig: Record<string, unknown> = {};
  const raw = user['grpc.service_config'];
  if (raw !== undefined) {
    try {
      serviceConfig = typeof raw === 'string' ? JSON.parse(raw) : raw;
    } catch {
      throw new ConfigError('channelOptions["grpc.service_config"]', 'must be valid JSON', raw);
    }
    if (!isPlainObject(serviceConfig))
      throw new ConfigError(
        'channelOptions["grpc.service_config"]',
        'must be a service config object, or its JSON text',
        raw,
      );
  }
  const balance =
    input.loadBalancing !== false && (forAddresses || input.loadBalancing !== undefined);
  if (balance && serviceConfig.loadBalancingConfig === undefined) {
    serviceConfig = {
      ...serviceConfig,
      loadBalancingConfig: loadBalancingConfig((input.loadBalancing ?? {}) as object),
    };
  }
  const health = balance ? healthCheckConfig((input.loadBalancing ?? {}) as object) : undefined;
  if (health && serviceConfig.healthCheckConfig === undefined)
    serviceConfig = { ...serviceConfig, healthCheckConfig: health };
  if (Object.keys(serviceConfig).length > 0)
    options['grpc.service_config'] = JSON.stringify(serviceConfig);
  return options;
}

/** Sets a grpc-js message size limit from a `…MessageBytes` option, when one is given. */
export function setMessageLimit(
  options: Record<string, unknown>,
  key: string,
  path: string,
  value: unknown,
): void {
  if (value !== undefined)
    options[key] = integerOption(path, value, 0, { min: 1, max: 2 ** 31 - 1 });
}
