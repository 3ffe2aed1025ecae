import {
  Server,
  type ServerInterceptor,
  type ServerOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ConfigError, objectOption, serviceOf } from '@grpc-resilience/status';
import { AdmissionControl, type AdmissionOptions } from './admission';
import { CallTracker } from './call-tracker';
import {
  drainServer,
  resolveDrainOptions,
  type DrainOptions,
  type DrainResult,
  type ResolvedDrainOptions,
} from './drain';
import { drainOnSignal, type DrainOnSignalOptions } from './drain-on-signal';
import {
  resolveHandlerErrorOptions,
  type HandlerErrorOptions,
  type ResolvedHandlerErrorOptions,
} from './handler-error';
import { HEALTH_SERVICE_NAME, ServerHealth } from './health';
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
  /**
   * Serve `grpc.health.v1.Health`, each added service SERVING, or `false`. Default true.
   */
  health?: boolean;
  /** Defaults of {@link ResilientServer.gracefulShutdown}. */
  drain?: DrainOptions;
  /**
   * The adaptive concurrency limit (see `AdmissionControl`): `{}` for its defaults. Default off:
   * on a starved machine (one process serving 500 calls/s to itself on a loaded CI box) it shed
   * calls that nothing else would have failed, so it is opt-in until it is safe everywhere.
   */
  admission?: false | AdmissionOptions;
}

const OPTION_KEYS = ['serverOptions', 'handlerErrors', 'health', 'drain', 'admission'];

/**
 * A grpc-js `Server` with the server side of the layer: handlers that cannot crash the process
 * or leak an error's text, a health service that follows the services added and the drain, and
 * a drain that takes the server down without failing calls. Everything else is grpc-js's own.
 */
export class ResilientServer extends Server {
  /** The health service (undefined with `health: false`). */
  readonly health: ServerHealth | undefined;
  /** Calls in flight and the long-lived streams a drain ends. */
  readonly tracker: CallTracker;
  /** The adaptive concurrency limit (undefined with `admission: false`). */
  readonly admission: AdmissionControl | undefined;
  private readonly handlerErrors: ResolvedHandlerErrorOptions | undefined;
  private readonly drainOptions: ResolvedDrainOptions;
  private draining: Promise<DrainResult> | undefined;

  constructor(options: ResilientServerOptions = {}) {
    const input = objectOption('', options, OPTION_KEYS);
    const serverOptions = objectOption(
      'serverOptions',
      input.serverOptions,
      Object.keys((input.serverOptions as object) ?? {}),
    );
    const own = (serverOptions.interceptors ?? []) as ServerInterceptor[];
    if (!Array.isArray(own))
      throw new ConfigError('serverOptions.interceptors', 'must be an array', own);
    const tracker = new CallTracker();
    const admission =
      input.admission === false || input.admission === undefined
        ? undefined
        : new AdmissionControl(input.admission as AdmissionOptions | undefined);
    // The tracker first: it sees every call, including those an inner interceptor refuses; then
    // admission, so that a refused call costs no other interceptor anything.
    super({
      ...serverOptions,
      interceptors: [
        tracker.interceptor,
        ...(admission === undefined ? [] : [admission.interceptor]),
        ...own,
      ],
    });
    this.tracker = tracker;
    this.admission = admission;
    this.handlerErrors =
      input.handlerErrors === false
        ? undefined
        : resolveHandlerErrorOptions(input.handlerErrors as HandlerErrorOptions | undefined);
    this.drainOptions = resolveDrainOptions(input.drain as DrainOptions | undefined);
    if (input.health !== undefined && typeof input.health !== 'boolean')
      throw new ConfigError('health', 'must be true or false', input.health);
    this.health = input.health === false ? undefined : new ServerHealth();
    if (this.health !== undefined) {
      const { definition, implementation } = this.health.service();
      super.addService(definition, implementation);
    }
  }

  /** grpc-js's `addService`, with every handler made safe and the service marked SERVING. */
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
    const first = Object.values(service)[0];
    const name = first === undefined ? undefined : serviceOf(first.path);
    if (name !== undefined && name !== HEALTH_SERVICE_NAME) this.health?.addService(name);
  }

  /**
   * Drains and stops the server (see `drainServer`); `options` override the constructor's
   * `drain` defaults. Calling it again returns the same drain. (grpc-js's own `drain(port,
   * graceTimeMs)` only sends GOAWAY on one port's connections.)
   */
  gracefulShutdown(options?: DrainOptions): Promise<DrainResult> {
    this.draining ??= drainServer(
      this,
      { health: this.health, tracker: this.tracker },
      options === undefined
        ? this.drainOptions
        : resolveDrainOptions({ ...this.drainOptionsInput(), ...options }),
    );
    return this.draining;
  }

  /** grpc-js's, and the admission control stops measuring the event loop. */
  override forceShutdown(): void {
    super.forceShutdown();
    this.admission?.close();
  }

  /** grpc-js's, and the admission control stops measuring the event loop. */
  override tryShutdown(callback: (error?: Error) => void): void {
    super.tryShutdown((error) => {
      this.admission?.close();
      callback(error);
    });
  }

  /** Drains on SIGTERM (and SIGINT), then exits: the one call a service needs. */
  shutdownOnSignal(options?: DrainOnSignalOptions): () => void {
    return drainOnSignal(() => this.gracefulShutdown(), options);
  }

  private drainOptionsInput(): DrainOptions {
    const { drainDelayMs, graceMs, streamGraceMs, onPhase } = this.drainOptions;
    return { drainDelayMs, graceMs, streamGraceMs, onPhase };
  }
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
