import { createLoadReportInterceptor } from '@grpc-resilience/load-balancer';
import { startTestBackend } from '@grpc-resilience/testing';
import { HealthImplementation } from 'grpc-health-check';

/** What the balancing bench asks of a backend process over IPC. */
export type BalancingBackendCommand = { health: 'SERVING' | 'NOT_SERVING' };

/** What a backend process tells the bench. */
export type BalancingBackendReport = { address: string } | { acked: true };

// One balancing backend in its own process, so that the client's event-loop lag is not in the
// latency every backend shows the balancer. Its delay is a timer, not CPU: three of them and the
// client fit two cores. It reports its time for each call to the client's balancer, as a server
// built with the layer's server kit does (`resilientServerOptions` puts this interceptor first).
// argv: name, delay ms, service name for grpc-health-check (SERVING), port (0: any).
async function main(): Promise<void> {
  const [name, delay, service, port] = process.argv.slice(2);
  const health = new HealthImplementation({ [service]: 'SERVING' });
  const backend = await startTestBackend({
    name,
    port: Number(port),
    behaviour: { delayMs: Number(delay) },
    serverOptions: { interceptors: [createLoadReportInterceptor()] },
  });
  health.addToServer(backend.server);
  process.on('message', (command: BalancingBackendCommand) => {
    health.setStatus(service, command.health);
    process.send?.({ acked: true } satisfies BalancingBackendReport);
  });
  process.on('disconnect', () => {
    backend.kill();
    process.exit(0);
  });
  process.send?.({ address: backend.address } satisfies BalancingBackendReport);
}
void main();
