import type { Server } from '@grpc/grpc-js';

/**
 * The one method {@link gracefulShutdown} calls on a health service. `HealthImplementation` of
 * grpc-health-check satisfies it; typed by shape so that package is not a dependency of this one.
 */
export interface HealthStatusSetter {
  setStatus(service: string, status: 'NOT_SERVING'): void;
}

/** Options of {@link gracefulShutdown}. */
export interface GracefulShutdownOptions {
  /** The server's health service, to mark NOT_SERVING first so balancers stop sending. */
  health?: HealthStatusSetter;
  /** Services to mark NOT_SERVING besides the overall `""`. */
  services?: readonly string[];
  /** How long in-flight calls get before the server is forced down, ms. Default 10000. */
  graceMs?: number;
}

/**
 * Takes a server down without failing calls: marks health NOT_SERVING (grpc-health-check), stops
 * accepting and sends GOAWAY so clients move new calls to other backends (`tryShutdown`), waits
 * for in-flight calls up to `graceMs`, then forces the rest. Resolves once the server is down;
 * `forced` says whether the grace ran out.
 */
export async function gracefulShutdown(
  server: Server,
  options: GracefulShutdownOptions = {},
): Promise<{ forced: boolean }> {
  const { health, services = [], graceMs = 10_000 } = options;
  for (const service of ['', ...services]) health?.setStatus(service, 'NOT_SERVING');
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve({ forced: true });
    }, graceMs);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve({ forced: false });
    });
  });
}
