import * as net from 'node:net';

/**
 * What the proxy does with traffic:
 * - `pass`: forward both ways (with `latencyMs` added, if set);
 * - `freeze`: a blackhole: accept connections and hold every byte, forwarding nothing, so peers
 *   see a silent but open TCP connection (only keepalive or a deadline notices);
 * - `reset`: reset every connection, current and new (TCP RST), as a crashed peer or a middlebox;
 * - `refuse`: stop listening, so new connections get ECONNREFUSED; current ones keep flowing.
 */
export type ChaosMode = 'pass' | 'freeze' | 'reset' | 'refuse';

/** Which bytes {@link ChaosProxy.closeAfterBytes} counts. */
export type ByteDirection = 'upstream' | 'downstream' | 'both';

/** A TCP proxy in front of one address, whose behaviour can be switched while traffic flows. */
export interface ChaosProxy {
  /** `127.0.0.1:<port>`: point clients here. */
  readonly address: string;
  readonly port: number;
  readonly mode: ChaosMode;
  /** Connections open now. */
  readonly openConnections: number;
  /** Connections accepted since start. */
  readonly acceptedConnections: number;
  pass(): Promise<void>;
  freeze(): Promise<void>;
  reset(): Promise<void>;
  refuse(): Promise<void>;
  /** Delay every chunk by this long, each way (0 to stop). */
  setLatency(ms: number): void;
  /**
   * Reset each connection once it has carried `bytes` in `direction` (default `downstream`,
   * server to client), counted from now for open connections and from the start for new ones:
   * e.g. 1 to lose the next response after the server did the work. `undefined` turns it off.
   * `times` (default unlimited): how many connections to reset before turning itself off.
   */
  closeAfterBytes(bytes: number | undefined, direction?: ByteDirection, times?: number): void;
  /** Forward to another address from now on (new connections). */
  setTarget(address: string): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  up: number;
  down: number;
}

/** Starts a chaos proxy on 127.0.0.1 (a free port unless `port` is given) in front of `target`. */
export async function startChaosProxy(
  target: string,
  options: { port?: number } = {},
): Promise<ChaosProxy> {
  let mode: ChaosMode = 'pass';
  let latencyMs = 0;
  let limit: { bytes: number; direction: ByteDirection; times: number } | undefined;
  let [targetHost, targetPort] = splitAddress(target);
  let accepted = 0;
  const links = new Set<Link>();

  const resetLink = (link: Link) => {
    reset(link.client);
    reset(link.upstream);
    links.delete(link);
  };

  const overLimit = (link: Link) => {
    if (!limit) return false;
    const { bytes, direction } = limit;
    const carried =
      direction === 'upstream'
        ? link.up
        : direction === 'downstream'
          ? link.down
          : link.up + link.down;
    return carried >= bytes;
  };

  const forward = (link: Link, from: net.Socket, to: net.Socket, upstream: boolean) => {
    from.on('data', (chunk: Buffer) => {
      if (upstream) link.up += chunk.length;
      else link.down += chunk.length;
      if (overLimit(link)) {
        if (--limit!.times <= 0) limit = undefined;
        return resetLink(link);
      }
      const write = () => {
        if (!to.destroyed && !to.write(chunk)) {
          from.pause();
          to.once('drain', () => mode !== 'freeze' && from.resume());
        }
      };
      if (latencyMs > 0) setTimeout(write, latencyMs).unref();
      else write();
    });
    from.on('end', () => to.end());
    from.on('error', () => resetLink(link));
    from.on('close', () => {
      links.delete(link);
      if (!to.destroyed) to.destroy();
    });
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    if (mode === 'reset') return void client.resetAndDestroy();
    const upstream = net.connect(targetPort, targetHost);
    upstream.pause();
    // No Nagle: with delayed ACKs it would add ~40 ms to small writes, a fault nobody asked for.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const link: Link = { client, upstream, up: 0, down: 0 };
    links.add(link);
    forward(link, client, upstream, true);
    forward(link, upstream, client, false);
    if (mode !== 'freeze') {
      client.resume();
      upstream.resume();
    }
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));

  const port = await listen(options.port ?? 0);

  const setMode = async (next: ChaosMode) => {
    if (mode === 'refuse' && next !== 'refuse') await listen(port);
    mode = next;
    for (const link of links) {
      if (next === 'freeze') {
        link.client.pause();
        link.upstream.pause();
      } else if (next === 'reset') {
        resetLink(link);
      } else {
        link.client.resume();
        link.upstream.resume();
      }
    }
    // Closing the listener keeps open connections; it resolves only once they are gone, so don't wait.
    if (next === 'refuse') server.close();
  };

  return {
    address: `127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    get openConnections() {
      return links.size;
    },
    get acceptedConnections() {
      return accepted;
    },
    pass: () => setMode('pass'),
    freeze: () => setMode('freeze'),
    reset: () => setMode('reset'),
    refuse: () => setMode('refuse'),
    setLatency(ms) {
      latencyMs = ms;
    },
    closeAfterBytes(bytes, direction = 'downstream', times = Infinity) {
      limit = bytes === undefined ? undefined : { bytes, direction, times };
      for (const link of links) link.up = link.down = 0;
    },
    setTarget(address) {
      [targetHost, targetPort] = splitAddress(address);
    },
    async close() {
      for (const link of links) resetLink(link);
      await stopListening();
    },
  };
}

/** Splits `host:port` (IPv6 in brackets allowed). */
export function splitAddress(address: string): [string, number] {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!match) throw new TypeError(`expected host:port, received ${JSON.stringify(address)}`);
  return [match[1], Number(match[2])];
}

/**
 * Sends a TCP RST and destroys the socket. A socket still connecting has nothing to reset, and
 * Node's resetAndDestroy would wait for its 'connect', keeping the handle (and the process) alive.
 */
function reset(socket: net.Socket): void {
  if (socket.connecting || socket.pending) socket.destroy();
  else socket.resetAndDestroy();
}
