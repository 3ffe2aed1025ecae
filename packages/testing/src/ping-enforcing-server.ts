import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { BEHAVIOUR_HEADERS } from './behaviour';

/** Options of {@link startPingEnforcingServer}; defaults are grpc-go's and gRPC core's. */
export interface PingEnforcingServerOptions {
  /** Pings closer together than this are strikes, ms. Default 300000 (5 min). */
  minPingIntervalMs?: number;
  /** Pings with no call in flight are allowed at that interval. Default false (then 2 h). */
  permitWithoutCalls?: boolean;
  /** Strikes tolerated before GOAWAY. Default 2. */
  maxPingStrikes?: number;
  /**
   * Answer each call after this long, so that calls stay in flight, ms. Default 0. The request
   * header `x-test-delay-ms` (`behaviourMetadata({ delayMs })`) overrides it per call.
   */
  responseDelayMs?: number;
}

/** A gRPC-speaking HTTP/2 server that enforces a ping policy, as Go and C++ servers do. */
export interface PingEnforcingServer {
  readonly address: string;
  /** GOAWAY ENHANCE_YOUR_CALM `too_many_pings` sent so far. */
  readonly tooManyPings: number;
  /** Pings received so far. */
  readonly pings: number;
  /** Calls received so far (every attempt of a retried call counts). */
  readonly calls: number;
  /** Calls this server ended itself with status OK. */
  readonly completed: number;
  close(): Promise<void>;
}

/** An empty protobuf message, framed for gRPC: not compressed, length 0. */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);
const TWO_HOURS_MS = 2 * 60 * 60 * 1000;

/**
 * Starts a server that answers every call with empty messages (any method decodes them) and
 * enforces a ping policy the way grpc-go's http2_server `handlePing` does: a ping sooner than
 * `minPingIntervalMs` after the previous one (2 h when no call is in flight and pings without
 * calls are not permitted) is a strike; sending headers or data resets the strikes (grpc-go's
 * `resetPingStrikes`, set on each write); past `maxPingStrikes` it sends GOAWAY
 * ENHANCE_YOUR_CALM with debug data `too_many_pings` and closes the connection. grpc-js servers
 * enforce nothing, so this is what shows a client's keepalive is safe for Go and C++ servers.
 *
 * Per call, as request metadata (`behaviourMetadata`): `delayMs` keeps the call quiet (nothing
 * sent, not even headers, as a grpc-go handler that has not written yet) before it answers;
 * `messages` (default 1) and `messageIntervalMs` shape a server stream's answer. A server stream
 * that stays quiet while the client pings is the case a unary call hides: only the server's
 * writes reset the strikes, so a quiet stream collects them.
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
  let completed = 0;
  const sessions = new Set<http2.ServerHttp2Session>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };
  const server = http2.createServer();

  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
    let lastPingAt = -Infinity;
    let strikes = 0;
    let resetStrikes = false;
    let active = 0;
    session.on('stream', (stream, headers) => {
      active++;
      calls++;
      stream.on('error', () => undefined);
      stream.on('close', () => active--);
      stream.resume();
      const header = (key: string) => {
        const value = Number(headers[key]);
        return Number.isFinite(value) ? value : undefined;
      };
      const delayMs = header(BEHAVIOUR_HEADERS.delayMs) ?? responseDelayMs;
      const messages = header(BEHAVIOUR_HEADERS.messages) ?? 1;
      const intervalMs = header(BEHAVIOUR_HEADERS.messageIntervalMs) ?? 0;
      const open = () => !stream.destroyed && !stream.closed;
      const send = (left: number) => {
        if (!open()) return;
        resetStrikes = true;
        if (left <= 0) {
          completed++;
          stream.end();
          return;
        }
        stream.write(EMPTY_MESSAGE);
        if (left === 1) send(0);
        else later(intervalMs, () => send(left - 1));
      };
      stream.on('end', () =>
        later(delayMs, () => {
          if (!open()) return;
          stream.respond(
            { ':status': 200, 'content-type': 'application/grpc' },
            { waitForTrailers: true },
          );
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          send(messages);
        }),
      );
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
    get completed() {
      return completed;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const session of sessions) session.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
