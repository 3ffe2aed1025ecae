/**
 * Keepalive and connection-age presets. Client: how often to ping and how long to wait for the
 * ack (a dead peer is found in time + timeout), and how long a connection may stay in CONNECTING.
 * Server: what pings it permits, when it pings, and when it ages connections out so clients
 * re-resolve and rebalance (gRFC A8 / A9).
 */
export type PresetName = 'in-cluster' | 'through-proxy' | 'conservative';

export interface ClientKeepalive {
  /** Ping after this long without activity, ms (grpc.keepalive_time_ms). */
  keepaliveTimeMs: number;
  /** Close the connection when a ping is not acked within this, ms (grpc.keepalive_timeout_ms). */
  keepaliveTimeoutMs: number;
  /** Ping with no calls in flight, keeping idle connections through NAT (grpc.keepalive_permit_without_calls). */
  permitWithoutCalls: boolean;
  /** Give up on a connection stuck connecting after this, ms (grpc-js has none). */
  connectTimeoutMs: number;
}

/** What a server tolerates before answering GOAWAY `too_many_pings` (gRFC A8 enforcement). */
export interface ServerPingPolicy {
  /** Pings closer than this count as strikes, ms (grpc-go MinTime, core min_recv_ping_interval). */
  minPingIntervalMs: number;
  /** Pings with no call in flight are allowed (grpc-go PermitWithoutStream). */
  permitWithoutCalls: boolean;
}

export interface ServerKeepalive {
  /** The server pings after this long without activity, ms (grpc.keepalive_time_ms). */
  keepaliveTimeMs: number;
  /** ... and closes the connection when the ack takes longer, ms (grpc.keepalive_timeout_ms). */
  keepaliveTimeoutMs: number;
  /** GOAWAY after this connection age (grpc-js adds ±10% jitter), ms (grpc.max_connection_age_ms). */
  maxConnectionAgeMs: number;
  /** Calls in flight get this long after the GOAWAY, ms (grpc.max_connection_age_grace_ms). */
  maxConnectionAgeGraceMs: number;
  /** GOAWAY a connection idle this long, ms (grpc.max_connection_idle_ms). */
  maxConnectionIdleMs: number;
  /** The ping policy this server declares to its clients. */
  permit: ServerPingPolicy;
}

export interface KeepalivePreset {
  client: ClientKeepalive;
  server: ServerKeepalive;
}

/** Servers' ping enforcement by implementation, at their defaults. */
export type ServerProfileName =
  'grpc-resilience' | 'grpc-js' | 'grpc-go' | 'grpc-core' | 'grpc-java';

export const SERVER_PROFILES: Readonly<Record<ServerProfileName, Readonly<ServerPingPolicy>>> =
  Object.freeze({
    // What servers built with resilientServerOptions declare (the in-cluster preset's server side).
    'grpc-resilience': Object.freeze({ minPingIntervalMs: 10_000, permitWithoutCalls: true }),
    // grpc-js servers enforce nothing (no too_many_pings), which is why Node-to-Node tests pass
    // and the same client fails against Go or C++ servers.
    'grpc-js': Object.freeze({ minPingIntervalMs: 0, permitWithoutCalls: true }),
    // grpc-go keepalive.EnforcementPolicy defaults: MinTime 5 min, PermitWithoutStream false.
    'grpc-go': Object.freeze({ minPingIntervalMs: 300_000, permitWithoutCalls: false }),
    // gRPC core (C++, Python, Ruby…): GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS 5 min.
    'grpc-core': Object.freeze({ minPingIntervalMs: 300_000, permitWithoutCalls: false }),
    // grpc-java NettyServerBuilder: permitKeepAliveTime 5 min, permitKeepAliveWithoutCalls false.
    'grpc-java': Object.freeze({ minPingIntervalMs: 300_000, permitWithoutCalls: false }),
  });

/**
 * The policy assumed when the client does not declare its server (`keepalive.server` unset and no
 * preset named): the strictest of {@link SERVER_PROFILES}, i.e. grpc-go, grpc-java and gRPC core
 * at their defaults (pings every 5 min at most, none without calls). A client valid against it
 * draws no GOAWAY `too_many_pings` from any of the servers people run unconfigured.
 */
export const STRICTEST_SERVER_POLICY: Readonly<ServerPingPolicy> = Object.freeze({
  minPingIntervalMs: Math.max(...Object.values(SERVER_PROFILES).map((p) => p.minPingIntervalMs)),
  permitWithoutCalls: Object.values(SERVER_PROFILES).every((p) => p.permitWithoutCalls),
});

export const PRESETS: Readonly<Record<PresetName, Readonly<KeepalivePreset>>> = Object.freeze({
  // Pods talking directly: a dead peer is found in 35 s; connections age out every ~5 min so
  // clients pick up new pods.
  'in-cluster': Object.freeze({
    client: {
      keepaliveTimeMs: 30_000,
      keepaliveTimeoutMs: 5_000,
      permitWithoutCalls: false,
      connectTimeoutMs: 5_000,
    },
    server: {
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 5_000,
      maxConnectionAgeMs: 300_000,
      maxConnectionAgeGraceMs: 30_000,
      maxConnectionIdleMs: 60_000,
      permit: SERVER_PROFILES['grpc-resilience'],
    },
  }),
  // Behind NAT or an L4 load balancer that drops idle flows (AWS NLB 350 s, Azure 4 min): ping
  // idle connections too, well inside the shortest idle timeout.
  'through-proxy': Object.freeze({
    client: {
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 10_000,
      permitWithoutCalls: true,
      connectTimeoutMs: 10_000,
    },
    server: {
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 10_000,
      maxConnectionAgeMs: 300_000,
      maxConnectionAgeGraceMs: 30_000,
      maxConnectionIdleMs: 300_000,
      permit: { minPingIntervalMs: 30_000, permitWithoutCalls: true },
    },
  }),
  // Safe against any server at its defaults (5 min + margin): slow to find dead peers.
  conservative: Object.freeze({
    client: {
      keepaliveTimeMs: 330_000,
      keepaliveTimeoutMs: 20_000,
      permitWithoutCalls: false,
      connectTimeoutMs: 20_000,
    },
    server: {
      keepaliveTimeMs: 7_200_000,
      keepaliveTimeoutMs: 20_000,
      maxConnectionAgeMs: 1_800_000,
      maxConnectionAgeGraceMs: 300_000,
      maxConnectionIdleMs: 1_800_000,
      permit: { minPingIntervalMs: 300_000, permitWithoutCalls: false },
    },
  }),
});

/** Client pings must be at least this much slower than the server's minimum (timer jitter). */
export const PING_SAFETY_MARGIN = 0.1;
