export {
  resilientOptions,
  createResilientClient,
  circuitBreakerOf,
  type ClientConstructor,
} from './client-factory';
export { type ResilientConfig } from './client-config';
export { resilientServerOptions, type ResilientServerConfig } from './server-factory';
export { gracefulShutdown, type GracefulShutdownOptions } from './graceful-shutdown';
export { sharedChannelFactory, openSharedChannels } from './shared-channels';
