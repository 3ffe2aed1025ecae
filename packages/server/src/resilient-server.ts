import {
  Server,
  type ServerOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { objectOption } from '@grpc-resilience/status';
import {
  resolveHandlerErrorOptions,
  type HandlerErrorOptions,
  type ResolvedHandlerErrorOptions,
} from './handler-error';
import { safeImplementation } from './safe-handlers';

/** Options of {@link ResilientServer}. Every field is optional. */
export interface ResilientServerOptions {
  /** grpc-js server options (keepalive, interceptors, message limits). Default `{}`. */
  serverOptions?: ServerOptions;
  /**
   * The safety net around every handler added with `addService` (see `safeImplementation`), or
   * `false` to add handlers as they are. Default on, logging to a process warning.
   */
  handlerErrors?: false | HandlerErrorOptions;
}

const OPTION_KEYS = ['serverOptions', 'handlerErrors'];

/**
 * A grpc-js `Server` whose `addService` wraps every handler so that none can crash the process
 * or leak an error's text to clients. Everything else is grpc-js's own `Server`.
 */
export class ResilientServer extends Server {
  private readonly handlerErrors: ResolvedHandlerErrorOptions | undefined;

  constructor(options: ResilientServerOptions = {}) {
    const input = objectOption('', options, OPTION_KEYS);
    const serverOptions = objectOption(
      'serverOptions',
      input.serverOptions,
      Object.keys((input.serverOptions as object) ?? {}),
    );
    super(serverOptions);
    this.handlerErrors =
      input.handlerErrors === false
        ? undefined
        : resolveHandlerErrorOptions(input.handlerErrors as HandlerErrorOptions | undefined);
  }

  override addService(
    service: ServiceDefinition,
    implementation: UntypedServiceImplementation,
  ): void {
    super.addService(
      service,
      this.handlerErrors === undefined || !isObject(service) || !isObject(implementation)
        ? implementation // grpc-js validates the arguments and throws its own error
        : safeImplementation(service, implementation, this.handlerErrors),
    );
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
