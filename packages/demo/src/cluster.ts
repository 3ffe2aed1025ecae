import type * as grpc from '@grpc/grpc-js';
import {
  startChaosProxy,
  startTestBackend,
  type ChaosProxy,
  type TestBackend,
} from '@grpc-resilience/testing';

/** Three backends, each behind its own chaos proxy, so one can be blackholed alone. */
export class Cluster {
  private constructor(
    readonly backends: TestBackend[],
    readonly proxies: ChaosProxy[],
    private readonly serverOptions: grpc.ServerOptions | undefined,
  ) {}

  /** Starts `size` backends, each a grpc-js server built with `serverOptions` (restarts too). */
  static async start(size = 3, serverOptions?: grpc.ServerOptions): Promise<Cluster> {
    const backends = await Promise.all(
      Array.from({ length: size }, (_, i) => startTestBackend({ name: `b${i}`, serverOptions })),
    );
    const proxies = await Promise.all(backends.map((backend) => startChaosProxy(backend.address)));
    return new Cluster(backends, proxies, serverOptions);
  }

  /** Where clients connect: the proxies. */
  get addresses(): string[] {
    return this.proxies.map((proxy) => proxy.address);
  }

  /** Calls that reached any backend's handler so far (every attempt counts). */
  get serverCalls(): number {
    return this.backends.reduce((sum, backend) => sum + backend.counters.calls, 0);
  }

  kill(index: number): void {
    this.backends[index].kill();
  }

  /** Starts a killed backend again on its old port. */
  async restart(index: number): Promise<void> {
    const old = this.backends[index];
    this.backends[index] = await startTestBackend({
      name: old.name,
      port: old.port,
      serverOptions: this.serverOptions,
    });
    // Carry the count over, so serverCalls keeps growing across the restart.
    this.backends[index].counters.calls += old.counters.calls;
  }

  async close(): Promise<void> {
    await Promise.all(this.proxies.map((proxy) => proxy.close()));
    for (const backend of this.backends) backend.kill();
  }
}
