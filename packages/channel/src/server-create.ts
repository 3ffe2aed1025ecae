import {
  ResilientServer,
  type DrainOptions,
  type HandlerErrorOptions,
} from '@grpc-resilience/server';
import { objectOption } from '@grpc-resilience/status';
import {
  RESILIENT_SERVER_CONFIG_KEYS,
  resilientServerOptions,
  type ResilientServerConfig,
} from './server-factory';

/** {@link ResilientServerConfig} and what only a server object can do. Every field is optional. */
export interface ResilientServerKitConfig extends ResilientServerConfig {
  /**
   * The handler safety net, or `false`: a handler that throws, rejects or emits 'error' ends
   * its call with UNKNOWN `handler failed (ref X)` and one record in `logger` (else a process
   * warning). Default on; `{ code: 'INTERNAL' }` to answer INTERNAL instead.
   */
  handlerErrors?: false | Pick<HandlerErrorOptions, 'code'>;
  /** Serve `grpc.health.v1.Health`, every added service SERVING. Default true. */
  health?: boolean;
  /** Defaults of `server.gracefulShutdown()` and `server.shutdownOnSignal()`. */
  drain?: DrainOptions;
  // `admission` (from ResilientServerConfig): off unless given; then `server.admission.stats`.
}

/**
 * The server kit in one call: a grpc-js `Server` (a `ResilientServer`) built with
 * {@link resilientServerOptions}, whose handlers cannot crash the process, which serves health,
 * and which drains with `server.gracefulShutdown()` or on SIGTERM with `server.shutdownOnSignal()`.
 */
export function createResilientServer(config: ResilientServerKitConfig = {}): ResilientServer {
  const input = objectOption('', config, [
    ...RESILIENT_SERVER_CONFIG_KEYS,
    'handlerErrors',
    'health',
    'drain',
  ]);
  const { handlerErrors, health, drain, admission, ...rest } = input;
  const errors = objectOption(
    'handlerErrors',
    handlerErrors === false ? undefined : handlerErrors,
    ['code'],
  );
  return new ResilientServer({
    // The server places admission itself, right after its call tracker, and keeps its stats.
    serverOptions: resilientServerOptions({ ...rest, admission: false } as ResilientServerConfig),
    admission: admission as false | undefined,
    handlerErrors:
      handlerErrors === false
        ? false
        : { ...errors, ...(input.logger === undefined ? {} : { logger: input.logger }) },
    health: health as boolean | undefined,
    drain: drain as DrainOptions | undefined,
  } as never);
}
