import {
  ConfigError,
  booleanOption,
  enumOption,
  integerOption,
  isPlainObject,
  objectOption,
} from '@grpc-resilience/status';
import {
  PING_SAFETY_MARGIN,
  PRESETS,
  SERVER_PROFILES,
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
  /** Base values. Default `in-cluster`. */
  preset?: PresetName;
  /** The servers' ping policy: a profile name or explicit numbers. Default `grpc-resilience`. */
  server?: ServerProfileName | ServerPingPolicy;
}

export interface ResolvedKeepalive extends ClientKeepalive {
  readonly server: Readonly<ServerPingPolicy>;
}

/**
 * Resolves client keepalive and validates it against the server's ping policy: a client that
 * pings more often than the server permits (with a 10% margin), or pings idle connections a
 * server does not allow, would be sent GOAWAY `too_many_pings` and have its connections closed.
 * That is refused here, at construction, with a `ConfigError`.
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
  const preset =
    PRESETS[enumOption(`${path}.preset`, fields.preset, 'in-cluster', PRESET_NAMES)].client;
  const resolved: ResolvedKeepalive = {
    keepaliveTimeMs: integerOption(
      `${path}.keepaliveTimeMs`,
      fields.keepaliveTimeMs,
      preset.keepaliveTimeMs,
      { min: 1, max: MAX_MS },
    ),
    keepaliveTimeoutMs: integerOption(
      `${path}.keepaliveTimeoutMs`,
      fields.keepaliveTimeoutMs,
      preset.keepaliveTimeoutMs,
      {
        min: 1,
        max: MAX_MS,
      },
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
    server: resolveServerPolicy(`${path}.server`, fields.server),
  };
  assertPermitted(path, resolved);
  return Object.freeze(resolved);
}

function resolveServerPolicy(path: string, value: unknown): ServerPingPolicy {
  if (value === undefined) return SERVER_PROFILES['grpc-resilience'];
  if (typeof value === 'string')
    return SERVER_PROFILES[enumOption(path, value, 'grpc-resilience', PROFILE_NAMES)];
  if (!isPlainObject(value))
    throw new ConfigError(
      path,
      `must be one of ${PROFILE_NAMES.join(', ')} or { minPingIntervalMs, permitWithoutCalls }`,
      value,
    );
  const fields = objectOption(path, value, ['minPingIntervalMs', 'permitWithoutCalls']);
  return {
    minPingIntervalMs: integerOption(
      `${path}.minPingIntervalMs`,
      fields.minPingIntervalMs,
      300_000,
      { min: 0, max: MAX_MS },
    ),
    permitWithoutCalls: booleanOption(
      `${path}.permitWithoutCalls`,
      fields.permitWithoutCalls,
      false,
    ),
  };
}

/** Throws when the server would answer the client's pings with GOAWAY `too_many_pings`. */
export function assertPermitted(path: string, client: ResolvedKeepalive): void {
  const { minPingIntervalMs, permitWithoutCalls } = client.server;
  const floor = Math.ceil(minPingIntervalMs * (1 + PING_SAFETY_MARGIN));
  if (minPingIntervalMs > 0 && client.keepaliveTimeMs < floor) {
    throw new ConfigError(
      `${path}.keepaliveTimeMs`,
      `must be at least ${floor} ms: the server permits pings every ${minPingIntervalMs} ms (plus a ${PING_SAFETY_MARGIN * 100}% margin) ` +
        `and answers faster ones with GOAWAY too_many_pings; set ${path}.server to the server's real policy or use the "conservative" preset`,
      client.keepaliveTimeMs,
    );
  }
  if (client.permitWithoutCalls && !permitWithoutCalls) {
    throw new ConfigError(
      `${path}.permitWithoutCalls`,
      'must be false: the server does not permit pings without calls in flight (grpc-go PermitWithoutStream) and would answer GOAWAY too_many_pings',
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
