import * as grpc from '@grpc/grpc-js';
import { createTestClient } from './calls';
import { startChaosProxy, type ChaosProxy } from './chaos-proxy';
import { startTestBackend, type TestBackend, type TestBackendOptions } from './test-backend';
import type { TestServiceClient } from './test-service';

/**
 * What a loopback suite starts, closed in one place: every client, proxy, backend and extra
 * cleanup a test made. Pass the test runner's `afterEach` (or `afterAll`) and teardown is
 * registered for you: `const loop = loopbackFixture(afterEach)`.
 */
export interface LoopbackFixture {
  /** A test backend, killed at teardown. */
  backend(options?: TestBackendOptions): Promise<TestBackend>;
  /** A chaos proxy in front of `target`, closed at teardown. */
  proxy(target: string): Promise<ChaosProxy>;
  /** Binds a server of the test's own on 127.0.0.1 (any port); forced down at teardown. */
  serve(server: grpc.Server): Promise<string>;
  /** A test client (with the status-counting interceptor), closed at teardown. */
  client(address: string, options?: grpc.ClientOptions): TestServiceClient;
  /** Any client or channel to close at teardown; returns it. */
  keep<T extends { close(): void }>(closable: T): T;
  /** Any other cleanup (a server, a child process), run at teardown. */
  onClose(cleanup: () => unknown): void;
  /** Closes everything started since the last teardown. */
  closeAll(): Promise<void>;
}

export function loopbackFixture(
  registerTeardown?: (teardown: () => Promise<void>) => void,
): LoopbackFixture {
  const clients: { close(): void }[] = [];
  const cleanups: (() => unknown)[] = [];
  const fixture: LoopbackFixture = {
    async backend(options) {
      const backend = await startTestBackend(options);
      cleanups.push(() => backend.kill());
      return backend;
    },
    async proxy(target) {
      const proxy = await startChaosProxy(target);
      cleanups.push(() => proxy.close());
      return proxy;
    },
    async serve(server) {
      cleanups.push(() => server.forceShutdown());
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(error) : resolve(bound),
        ),
      );
      return `127.0.0.1:${port}`;
    },
    client(address, options) {
      return fixture.keep(createTestClient(address, options));
    },
    keep(closable) {
      clients.push(closable);
      return closable;
    },
    onClose(cleanup) {
      cleanups.push(cleanup);
    },
    async closeAll() {
      // Clients first, so no call outlives the server it talks to; then the rest, newest first
      // (a proxy before the backend behind it). A failing cleanup does not skip the others.
      const failures: unknown[] = [];
      for (const client of clients.splice(0)) {
        try {
          client.close();
        } catch (error) {
          failures.push(error);
        }
      }
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await cleanup();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length > 0) throw new AggregateError(failures, 'loopback teardown failed');
    },
  };
  registerTeardown?.(() => fixture.closeAll());
  return fixture;
}
