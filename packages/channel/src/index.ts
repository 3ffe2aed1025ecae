export {
  resilientOptions,
  createResilientClient,
  circuitBreakerOf,
  type ClientConstructor,
} from './client-factory';
export { type ResilientConfig } from './client-config';
export { resilientServerOptions, type ResilientServerConfig } from './server-factory';
export {
  gracefulShutdown,
  type GracefulShutdownOptions,
  type HealthStatusSetter,
} from './graceful-shutdown';
export { createResilientServer, type ResilientServerKitConfig } from './server-create';
