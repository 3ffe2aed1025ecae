import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

export type { ServingStatus };

/** The full name of the health service, as in `grpc/health/v1/health.proto`. */
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

/**
 * The server's `grpc.health.v1.Health` service (Check and Watch, from grpc-health-check): one
 * status per service name, `""` for the server as a whole. Once {@link ServerHealth.drain} has
 * been called every service answers NOT_SERVING for good: a handler that sets SERVING later
 * cannot bring back traffic to a server on its way down.
 */
export class ServerHealth {
  private readonly implementation = new HealthImplementation({ '': 'SERVING' });
  private readonly statuses = new Map<string, ServingStatus>([['', 'SERVING']]);
  private drained = false;

  /** Whether {@link ServerHealth.drain} was called. */
  get isDraining(): boolean {
    return this.drained;
  }

  /** The status that Check answers for `service` now, or undefined for a service not known. */
  statusOf(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Sets a service's status (`""` is the server); Watch streams hear of it at once. */
  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    if (!this.drained) this.implementation.setStatus(service, status);
  }

  /** Marks a service SERVING unless a status was already set for it. */
  addService(service: string): void {
    if (!this.statuses.has(service)) this.setStatus(service, 'SERVING');
  }

  /** Every service NOT_SERVING, for good: the first step of a drain. */
  drain(): void {
    if (this.drained) return;
    for (const service of this.statuses.keys())
      this.implementation.setStatus(service, 'NOT_SERVING');
    this.drained = true;
  }

  /** The service definition and handlers, to add to any grpc-js server with `addService`. */
  service(): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
    let captured:
      { definition: ServiceDefinition; implementation: UntypedServiceImplementation } | undefined;
    // grpc-health-check hands its handlers only to a server: a server-shaped catcher takes them.
    this.implementation.addToServer({
      addService: (definition, implementation) =>
        void (captured = {
          definition: definition as unknown as ServiceDefinition,
          implementation: implementation as UntypedServiceImplementation,
        }),
    } as Parameters<HealthImplementation['addToServer']>[0]);
    return captured!;
  }
}
