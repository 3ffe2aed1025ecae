import * as net from 'node:net';

/**
 * A TCP server that accepts connections and never says a word: no HTTP/2 preface, no SETTINGS.
 * grpc-js has no connect timeout (grpc-node#2785), so a channel to it waits in CONNECTING.
 */
export interface SilentServer {
  readonly address: string;
  readonly port: number;
  /** Connections accepted since start. */
  readonly acceptedConnections: number;
  /** Stops listening and destroys every held connection. */
  close(): Promise<void>;
}

/** Starts a silent TCP server on 127.0.0.1 (a free port unless `port` is given). */
export async function startSilentServer(options: { port?: number } = {}): Promise<SilentServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    get acceptedConnections() {
      return accepted;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
