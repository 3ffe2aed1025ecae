import * as grpc from '@grpc/grpc-js';
import { BackendCounters } from './backend-counters';
import type { Behaviour } from './behaviour';
import { createTestHandlers } from './test-handlers';
import { testServiceDefinition } from './test-service';

/** Options of {@link startTestBackend}. */
export interface TestBackendOptions {
  /** Name returned in replies' `backend` field, to see where calls went. Default `backend`. */
  name?: string;
  /** Port to bind on 127.0.0.1. Default 0 (any free port); give an old port to restart there. */
  port?: number;
  /** Options for the grpc-js `Server` (keepalive, connection age, interceptors, size limits). */
  serverOptions?: grpc.ServerOptions;
  /** The backend's default behaviour (see `TestBackend.behaviour`). Default `{}`. */
  behaviour?: Behaviour;
  /** Extra services to add beside the test service. */
  services?: {
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  }[];
}

/** A real grpc-js server on loopback serving the test service. */
export interface TestBackend {
  readonly name: string;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly port: number;
  readonly server: grpc.Server;
  /** What the handlers saw. */
  readonly counters: BackendCounters;
  /**
   * What every call does unless its own metadata says otherwise: set `{ failCode: 14 }` for a
   * backend that is up but failing, `{ delayMs: 200 }` for a slow one, `{}` to heal it.
   */
  behaviour: Behaviour;
  /** Like a crash: every connection and call is dropped at once (`forceShutdown`). */
  kill(): void;
  /** Graceful: stop accepting, let calls finish for up to `graceMs` (default 1000), then force. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Starts a test backend on 127.0.0.1 (see `Behaviour` for what each call can ask it to do). */
export async function startTestBackend(options: TestBackendOptions = {}): Promise<TestBackend> {
  const name = options.name ?? 'backend';
  const counters = new BackendCounters();
  const server = new grpc.Server(options.serverOptions);
  const backend = { behaviour: options.behaviour ?? {} };
  server.addService(
    testServiceDefinition(),
    createTestHandlers(name, counters, () => backend.behaviour),
  );
  for (const service of options.services ?? []) {
    server.addService(service.definition, service.implementation);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `127.0.0.1:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, boundPort) => (error ? reject(error) : resolve(boundPort)),
    ),
  );
  return Object.assign(backend, {
    name,
    address: `127.0.0.1:${port}`,
    port,
    server,
    counters,
    kill: () => server.forceShutdown(),
    shutdown: (graceMs = 1000) => shutdownServer(server, graceMs),
  });
}

/** `tryShutdown`, forced after `graceMs`; resolves when the server is down either way. */
export function shutdownServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), graceMs);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
