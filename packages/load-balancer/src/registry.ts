import { experimental, status as Status, Metadata, type ChannelOptions } from '@grpc/grpc-js';

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

/** A grpc-js resolver that follows an {@link AddressSource}. */
class SourceResolver implements experimental.Resolver {
  private latest: string[] | undefined;
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
    this.unsubscribe = source.subscribe(
      (addresses) => {
        this.latest = addresses;
        this.report();
      },
      (error) => this.fail(error.message),
    );
  }

  private report(): void {
    if (this.destroyed || this.latest === undefined) return;
    const endpoints = this.latest.map((address) => {
      const hostPort = experimental.splitHostPort(address);
      if (!hostPort || hostPort.port === undefined)
        throw new TypeError(`expected host:port, received ${JSON.stringify(address)}`);
      return { addresses: [{ host: hostPort.host, port: hostPort.port }] };
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
    // Sources push every change as it happens, so there is nothing new to report when grpc-js
    // asks (round_robin asks whenever an endpoint leaves READY). Repeating the last list would
    // make round_robin rebuild its children, which asks again: a loop that starves the process.
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
