import {
  ConfigError,
  booleanOption,
  describeValue,
  enumOption,
  integerOption,
  isPlainObject,
  objectOption,
} from '@grpc-resilience/status';
import {
  PING_SAFETY_MARGIN,
  PRESETS,
  SERVER_PROFILES,
  STRICTEST_SERVER_POLICY,
  type ClientKeepalive,
  type PresetName,
  type ServerKeepalive,
  type ServerPingPolicy,
  type ServerProfileName,
} from './presets';

const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
const PROFILE_NAMES = Object.keys(SERVER_PROFILES) as ServerProfileName[];
const MAX_MS = 2_147_483_647;

/** Client keepalive: a preset, with fields overridden, checked against the server's policy. */
export interface KeepaliveOptions extends Partial<ClientKeepalive> {
  /**
   * Base values, and the server they are made for (the preset's server side). Default: none,
   * which means the `in-cluster` timeouts with the ping interval the server permits: 30 s, or its
   * minimum plus 10 % when that is longer (330 s when the server is not declared).
   */
  preset?: PresetName;
  /**
   * The servers' ping policy: a profile name or explicit numbers. Default: the named preset's own
   * server side; with no preset, {@link STRICTEST_SERVER_POLICY} (grpc-go, Java and C++ at their
   * defaults: pings every 5 min at most, none without calls).
   */
  server?: ServerProfileName | ServerPingPolicy;
}

export interface ResolvedKeepalive extends ClientKeepalive {
  readonly server: Readonly<ServerPingPolicy>;
}

/** The preset whose timeouts apply when none is named. */
const BASE_PRESET: PresetName = 'in-cluster';

/**
 * Resolves client keepalive and validates it against the server's ping policy: a client that
 * pings more often than the server permits (with a 10% margin), or pings idle connections a
 * server does not allow, would be sent GOAWAY `too_many_pings` and have its connections closed
 * (grpc-go closes after 2 strikes, and only its own writes reset them, so a quiet server stream
 * is where it shows). That is refused here, at construction, with a `ConfigError`.
 *
 * Which server is assumed: `server` when given; else the named preset's own server side; else,
 * nothing declared, the strictest server at its defaults ({@link STRICTEST_SERVER_POLICY}), so
 * `resolveKeepalive(undefined)` pings every 330 s and is safe against grpc-go, Java and C++.
 * Declare `server: 'grpc-resilience'` (servers built with resilientServerOptions) or name a preset
 * for the fast 30 s detection.
 */
export function resolveKeepalive(
  input: PresetName | KeepaliveOptions | undefined,
  path = 'keepalive',
): ResolvedKeepalive {
  const options: KeepaliveOptions = typeof input === 'string' ? { preset: input } : (input ?? {});
  if (typeof input === 'string' && !PRESET_NAMES.includes(input)) {
    throw new ConfigError(
      path,
      `must be one of ${PRESET_NAMES.map((n) => `"${n}"`).join(', ')} or an object`,
      input,
    );
  }
  const fields = objectOption(path, options, [
    'preset',
    'server',
    'keepaliveTimeMs',
    'keepaliveTimeoutMs',
    'permitWithoutCalls',
    'connectTimeoutMs',
  ]);
  const presetName =
    fields.preset === undefined
      ? undefined
      : enumOption(`${path}.preset`, fields.preset, BASE_PRESET, PRESET_NAMES);
  const server: ServerDeclaration =
    fields.server !== undefined
      ? {
          policy: resolveServerPolicy(`${path}.server`, fields.server),
          as: `${path}.server ${describeValue(fields.server)}`,
        }
      : presetName !== undefined
        ? {
            policy: PRESETS[presetName].server.permit,
            as: `the server side of ${path}.preset "${presetName}"`,
          }
        : { policy: STRICTEST_SERVER_POLICY, as: null };
  const preset = PRESETS[presetName ?? BASE_PRESET].client;
  // With no preset, ping as often as the server permits, but never more than every 30 s.
  const defaultTimeMs =
    presetName === undefined
      ? Math.max(preset.keepaliveTimeMs, pingFloorMs(server.policy))
      : preset.keepaliveTimeMs;
  const resolved: ResolvedKeepalive = {
    keepaliveTimeMs: integerOption(
      `${path}.keepaliveTimeMs`,
      fields.keepaliveTimeMs,
      defaultTimeMs,
      {
        min: 1,
        max: MAX_MS,
      },
    ),
    keepaliveTimeoutMs: integerOption(
      `${path}.keepaliveTimeoutMs`,
      fields.keepaliveTimeoutMs,
      preset.keepaliveTimeoutMs,
      { min: 1, max: MAX_MS },
    ),
    permitWithoutCalls: booleanOption(
      `${path}.permitWithoutCalls`,
      fields.permitWithoutCalls,
      preset.permitWithoutCalls,
    ),
    connectTimeoutMs: integerOption(
      `${path}.connectTimeoutMs`,
      fields.connectTimeoutMs,
      preset.connectTimeoutMs,
      { min: 1, max: MAX_MS },
    ),
    server: server.policy,
  };
  assertPermitted(path, resolved, server.as);
  return Object.freeze(resolved);
}

/** The server's policy, and how the config declared it (null: not declared). */
interface ServerDeclaration {
  policy: Readonly<ServerPingPolicy>;
  as: string | null;
}

/** The shortest client ping interval a server permits: its minimum plus the safety margin. */
function pingFloorMs(policy: ServerPingPolicy): number {
  return Math.ceil(policy.minPingIntervalMs * (1 + PING_SAFETY_MARGIN));
}

function resolveServerPolicy(path: string, value: unknown): Readonly<ServerPingPolicy> {
  if (typeof value === 'string')
    return SERVER_PROFILES[enumOption(path, value, 'grpc-go', PROFILE_NAMES)];
  if (!isPlainObject(value))
    throw new ConfigError(
      path,
      `must be one of ${PROFILE_NAMES.map((n) => `"${n}"`).join(', ')} or { minPingIntervalMs, permitWithoutCalls }`,
      value,
    );
  const fields = objectOption(path, value, ['minPingIntervalMs', 'permitWithoutCalls']);
  return {
    minPingIntervalMs: integerOption(
      `${path}.minPingIntervalMs`,
      fields.minPingIntervalMs,
      STRICTEST_SERVER_POLICY.minPingIntervalMs,
      { min: 0, max: MAX_MS },
    ),
    permitWithoutCalls: booleanOption(
      `${path}.permitWithoutCalls`,
      fields.permitWithoutCalls,
      STRICTEST_SERVER_POLICY.permitWithoutCalls,
    ),
  };
}

const HOW_TO_DECLARE =
  'declare the server with keepalive.server ("grpc-resilience" for servers built with resilientServerOptions, ' +
  `${PROFILE_NAMES.filter((n) => n !== 'grpc-resilience')
    .map((n) => `"${n}"`)
    .join(', ')} or { minPingIntervalMs, permitWithoutCalls })`;

/**
 * Throws a `ConfigError` naming the option when the server would answer the client's pings with
 * GOAWAY `too_many_pings`. `declaredAs` says where the server's policy came from (e.g.
 * `keepalive.server "grpc-go"`); null means the server was not declared and the strictest policy
 * was assumed.
 */
export function assertPermitted(
  path: string,
  client: ResolvedKeepalive,
  declaredAs: string | null = `${path}.server`,
): void {
  const { minPingIntervalMs, permitWithoutCalls } = client.server;
  const floor = pingFloorMs(client.server);
  const margin = `${PING_SAFETY_MARGIN * 100}%`;
  const fix =
    declaredAs === null ? HOW_TO_DECLARE : `set ${path}.server to the server's real policy`;
  if (minPingIntervalMs > 0 && client.keepaliveTimeMs < floor) {
    const why =
      declaredAs === null
        ? `${path}.server is not declared, so the strictest server defaults are assumed: grpc-go, grpc-java and gRPC core permit pings every ${minPingIntervalMs} ms (plus a ${margin} margin) and answer`
        : `the server permits pings every ${minPingIntervalMs} ms (declared by ${declaredAs}, plus a ${margin} margin) and answers`;
    throw new ConfigError(
      `${path}.keepaliveTimeMs`,
      `must be at least ${floor} ms: ${why} faster ones with GOAWAY too_many_pings, which fails the calls in flight; ${fix}, or raise ${path}.keepaliveTimeMs`,
      client.keepaliveTimeMs,
    );
  }
  if (client.permitWithoutCalls && !permitWithoutCalls) {
    const why =
      declaredAs === null
        ? `${path}.server is not declared, and grpc-go, grpc-java and gRPC core at their defaults answer`
        : `the server (declared by ${declaredAs}) answers`;
    throw new ConfigError(
      `${path}.permitWithoutCalls`,
      `must be false: ${why} pings without calls in flight with GOAWAY too_many_pings (grpc-go PermitWithoutStream); ${fix}`,
      true,
    );
  }
}

/** Server keepalive: a preset, with fields overridden. */
export type ServerKeepaliveOptions =
  PresetName | (Partial<Omit<ServerKeepalive, 'permit'>> & { preset?: PresetName });

export function resolveServerKeepalive(
  input: ServerKeepaliveOptions | undefined,
  path = 'keepalive',
): Readonly<ServerKeepalive> {
  const options = typeof input === 'string' ? { preset: input } : (input ?? {});
  const fields = objectOption(path, options, [
    'preset',
    'keepaliveTimeMs',
    'keepaliveTimeoutMs',
    'maxConnectionAgeMs',
    'maxConnectionAgeGraceMs',
    'maxConnectionIdleMs',
  ]);
  const preset =
    PRESETS[enumOption(`${path}.preset`, fields.preset, 'in-cluster', PRESET_NAMES)].server;
  const ms = (key: keyof Omit<ServerKeepalive, 'permit'>) =>
    integerOption(`${path}.${key}`, fields[key], preset[key], { min: 1, max: MAX_MS });
  return Object.freeze({
    keepaliveTimeMs: ms('keepaliveTimeMs'),
    keepaliveTimeoutMs: ms('keepaliveTimeoutMs'),
    maxConnectionAgeMs: ms('maxConnectionAgeMs'),
    maxConnectionAgeGraceMs: ms('maxConnectionAgeGraceMs'),
    maxConnectionIdleMs: ms('maxConnectionIdleMs'),
    permit: preset.permit,
  });
}
