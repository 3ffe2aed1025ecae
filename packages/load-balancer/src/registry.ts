import { experimental, status as Status, Metadata, type ChannelOptions } from '@grpc/grpc-js';
import { isHostPort } from './address-list';

/**
 * A source of backend addresses that pushes the whole current list whenever it changes (a
 * registry watch: Consul blocking queries, etcd watch, Kubernetes EndpointSlices, a file).
 * `subscribe` calls `onAddresses` once with the initial list (sync or async), then on every
 * change, and returns the function that stops it. Addresses are `host:port` (IPv6 in brackets).
 */
export interface AddressSource {
  subscribe(
    onAddresses: (addresses: string[]) => void,
    onError?: (error: Error) => void,
  ): () => void;
  /**
   * Optional: grpc-js asks for fresh addresses (an endpoint left READY). A source that polls
   * (DNS) may look up early, within its own rate limit, and push only what changed.
   */
  refresh?(): void;
}

/** The resolver scheme under which sources are reachable: `grpc-resilience:///<name>`. */
export const REGISTRY_SCHEME = 'grpc-resilience';

const sources = new Map<string, AddressSource>();

/**
 * Makes `source` reachable by grpc-js as the target `grpc-resilience:///<name>`: give that
 * target to any client (with the round-robin service config) and it follows the source.
 */
export function registerAddressSource(name: string, source: AddressSource): string {
  if (!/^[\w.-]+$/.test(name))
    throw new TypeError(
      `source name must be letters, digits, ".", "_" or "-", received ${JSON.stringify(name)}`,
    );
  registerScheme();
  sources.set(name, source);
  return `${REGISTRY_SCHEME}:///${name}`;
}

/** Forgets a source; channels already following it keep their last list. */
export function unregisterAddressSource(name: string): void {
  sources.delete(name);
}

/** How many sources are registered now (for diagnostics, and tests that look for leaks). */
export function registeredAddressSources(): number {
  return sources.size;
}

/** A grpc-js resolver that follows an {@link AddressSource}. */
class SourceResolver implements experimental.Resolver {
  private unsubscribe: (() => void) | undefined;
  private destroyed = false;

  constructor(
    private readonly target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
    _options: ChannelOptions,
  ) {
    const name = target.path.replace(/^\//, '');
    const source = sources.get(name);
    if (!source) {
      process.nextTick(() => this.fail(`no address source registered as "${name}"`));
      return;
    }
    this.source = source;
    this.unsubscribe = source.subscribe(
      (addresses) => this.report(addresses),
      (error) => this.fail(String((error as Error | undefined)?.message ?? error)),
    );
  }
  private source: AddressSource | undefined;

  /**
   * Hands a list to grpc-js. A list with a bad entry is refused as a whole and reported as an
   * error: grpc-js's balancers keep the endpoints they have when resolution fails, so the last
   * good list stays in force. Never throws: this runs inside the source's own callbacks.
   */
  private report(addresses: unknown): void {
    if (this.destroyed) return;
    if (!Array.isArray(addresses) || !addresses.every(isHostPort)) {
      this.fail(
        `the source pushed a list with an entry that is not host:port: ${JSON.stringify(addresses)}`,
      );
      return;
    }
    const endpoints = addresses.map((address: string) => {
      const hostPort = experimental.splitHostPort(address)!;
      return { addresses: [{ host: hostPort.host, port: hostPort.port! }] };
    });
    this.listener(experimental.statusOrFromValue(endpoints), {}, null, '');
  }

  private fail(details: string): void {
    if (this.destroyed) return;
    const status = {
      code: Status.UNAVAILABLE,
      details: `${experimental.uriToString(this.target)}: ${details}`,
      metadata: new Metadata(),
    };
    this.listener(experimental.statusOrFromError(status), {}, null, details);
  }

  updateResolution(): void {
    // Sources push every change as it happens, so the last list is never repeated here (the
    // balancer asks whenever an endpoint leaves READY; repeating the list would make it rebuild
    // its children, which asks again: a loop that starves the process). A polling source may
    // look up early; it pushes only a list that changed.
    if (!this.destroyed) this.source?.refresh?.();
  }

  destroy(): void {
    this.destroyed = true;
    this.unsubscribe?.();
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return target.path.replace(/^\//, '');
  }
}

function registerScheme(): void {
  // registerResolver replaces by scheme; registering once keeps it cheap and idempotent.
  if (registered) return;
  registered = true;
  experimental.registerResolver(REGISTRY_SCHEME, SourceResolver);
}
let registered = false;
