import type { Server } from '@grpc/grpc-js';
import {
  DEFAULT_DRAIN_DELAY_MS,
  drainServer,
  resolveDrainOptions,
  ResilientServer,
  type DrainOptions,
  type DrainResult,
} from '@grpc-resilience/server';

/**
 * The one method {@link gracefulShutdown} calls on a health service. `HealthImplementation` of
 * grpc-health-check satisfies it; typed by shape so that package is not a dependency of this one.
 */
export interface HealthStatusSetter {
  setStatus(service: string, status: 'NOT_SERVING'): void;
}

/** Options of {@link gracefulShutdown}: those of a drain, and the health service of a plain server. */
export interface GracefulShutdownOptions extends DrainOptions {
  /**
   * A plain grpc-js server's health service, to mark NOT_SERVING first so balancers stop
   * sending. A server from `createResilientServer` uses its own and ignores this.
   */
  health?: HealthStatusSetter;
  /** Services to mark NOT_SERVING besides the overall `""` (with `health`). */
  services?: readonly string[];
}

/**
 * Takes a server down without failing calls: health NOT_SERVING, `drainDelayMs` for balancers to
 * notice, then `tryShutdown` (GOAWAY: clients move new calls to other backends), long-lived
 * streams ended with UNAVAILABLE after `streamGraceMs` (servers from `createResilientServer`,
 * which track them), and `graceMs` for calls in flight before the rest is forced. Resolves once
 * the server is down; `forced` says whether the grace ran out.
 *
 * `drainDelayMs` defaults to 5000 when there is a health service to mark, and to 0 on a plain
 * server without one: nothing would tell a balancer earlier than the GOAWAY itself.
 */
export function gracefulShutdown(
  server: Server,
  options: GracefulShutdownOptions = {},
): Promise<DrainResult> {
  const { health, services = [], ...drain } = options;
  if (server instanceof ResilientServer) return server.gracefulShutdown(drain);
  const resolved = resolveDrainOptions(drain, 'gracefulShutdown', {
    drainDelayMs: health === undefined ? 0 : DEFAULT_DRAIN_DELAY_MS,
  });
  const notServing =
    health === undefined
      ? undefined
      : {
          drain: () => {
            for (const service of ['', ...services]) health.setStatus(service, 'NOT_SERVING');
          },
        };
  return drainServer(server, { health: notServing }, resolved);
}
