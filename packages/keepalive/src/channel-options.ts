import type { ChannelOptions, ServerOptions } from '@grpc/grpc-js';
import type { ResolvedKeepalive } from './options';
import type { ServerKeepalive } from './presets';

// The one place where keepalive fields become grpc-js's string keys.

/** grpc-js client channel options for a resolved keepalive. */
export function clientKeepaliveChannelOptions(keepalive: ResolvedKeepalive): ChannelOptions {
  return {
    'grpc.keepalive_time_ms': keepalive.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': keepalive.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': keepalive.permitWithoutCalls ? 1 : 0,
  };
}

/** grpc-js server options for a resolved server keepalive (grpc-js enforces no ping policy). */
export function serverKeepaliveOptions(keepalive: ServerKeepalive): ServerOptions {
  return {
    'grpc.keepalive_time_ms': keepalive.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': keepalive.keepaliveTimeoutMs,
    'grpc.max_connection_age_ms': keepalive.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': keepalive.maxConnectionAgeGraceMs,
    'grpc.max_connection_idle_ms': keepalive.maxConnectionIdleMs,
  };
}
