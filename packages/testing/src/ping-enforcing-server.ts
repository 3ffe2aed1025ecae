import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

/** Options of {@link startPingEnforcingServer}; defaults are grpc-go's and gRPC core's. */
export interface PingEnforcingServerOptions {
  /** Pings closer together than this are strikes, ms. Default 300000 (5 min). */
  minPingIntervalMs?: number;
  /** Pings with no call in flight are allowed at that interval. Default false (then 2 h). */
  permitWithoutCalls?: boolean;
  /** Strikes tolerated before GOAWAY. Default 2. */
  maxPingStrikes?: number;
  /** Answer each call after this long, so that calls stay in flight. Default 0. */
  responseDelayMs?: number;
}

/** A gRPC-speaking HTTP/2 server that enforces a ping policy, as Go and C++ servers do. */
export interface PingEnforcingServer {
  readonly address: string;
  /** GOAWAY ENHANCE_YOUR_CALM `too_many_pings` sent so far. */
  readonly tooManyPings: number;
  /** Pings received so far. */
  readonly pings: number;
  /** Calls answered so far. */
  readonly calls: number;
  close(): Promise<void>;
}

/** An empty protobuf message, framed for gRPC: not compressed, length 0. */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);
const TWO_HOURS_MS = 2 * 60 * 60 * 1000;

/**
 * Starts a server that answers every unary call with an empty message (any method decodes it)
 * and enforces a ping policy the way grpc-go's http2_server `handlePing` does: a ping sooner than
 * `minPingIntervalMs` after the previous one (2 h when no call is in flight and pings without
 * calls are not permitted) is a strike; sending data resets the strikes; past `maxPingStrikes`
 * it sends GOAWAY ENHANCE_YOUR_CALM with debug data `too_many_pings` and closes. grpc-js servers
 * enforce nothing, so this is what shows a client's keepalive is safe for Go and C++ servers.
 */
export async function startPingEnforcingServer(
  options: PingEnforcingServerOptions = {},
): Promise<PingEnforcingServer> {
  const {
    minPingIntervalMs = 300_000,
    permitWithoutCalls = false,
    maxPingStrikes = 2,
    responseDelayMs = 0,
  } = options;
  let tooManyPings = 0;
  let pings = 0;
  let calls = 0;
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();

  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
    let lastPingAt = -Infinity;
    let strikes = 0;
    let resetStrikes = false;
    let active = 0;
    session.on('stream', (stream) => {
      active++;
      calls++;
      stream.on('error', () => undefined);
      stream.on('close', () => active--);
      stream.resume();
      stream.on('end', () => setTimeout(answer, responseDelayMs));
      const answer = () => {
        if (stream.destroyed || stream.closed) return;
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc' },
          { waitForTrailers: true },
        );
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        resetStrikes = true;
        stream.end(EMPTY_MESSAGE);
      };
    });
    session.on('ping', () => {
      pings++;
      const now = Date.now();
      const previous = lastPingAt;
      lastPingAt = now;
      if (resetStrikes) {
        resetStrikes = false;
        strikes = 0;
        return;
      }
      const allowed = active === 0 && !permitWithoutCalls ? TWO_HOURS_MS : minPingIntervalMs;
      if (previous + allowed > now) strikes++;
      if (strikes > maxPingStrikes && !session.closed) {
        tooManyPings++;
        session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
        session.close();
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get tooManyPings() {
      return tooManyPings;
    },
    get pings() {
      return pings;
    },
    get calls() {
      return calls;
    },
    close() {
      for (const session of sessions) session.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
