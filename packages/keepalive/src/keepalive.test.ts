import { ConfigError } from '@grpc-resilience/status';
import {
  PRESETS,
  SERVER_PROFILES,
  STRICTEST_SERVER_POLICY,
  clientKeepaliveChannelOptions,
  resolveKeepalive,
  resolveServerKeepalive,
  serverKeepaliveOptions,
  type PresetName,
  type ServerProfileName,
} from './index';

describe('presets against server profiles', () => {
  // Which preset a server at its defaults permits: no entry may draw too_many_pings.
  const expected: Record<PresetName, Record<ServerProfileName, boolean>> = {
    'in-cluster': {
      'grpc-resilience': true,
      'grpc-js': true,
      'grpc-go': false,
      'grpc-core': false,
      'grpc-java': false,
    },
    'through-proxy': {
      'grpc-resilience': true,
      'grpc-js': true,
      'grpc-go': false,
      'grpc-core': false,
      'grpc-java': false,
    },
    conservative: {
      'grpc-resilience': true,
      'grpc-js': true,
      'grpc-go': true,
      'grpc-core': true,
      'grpc-java': true,
    },
  };
  for (const preset of Object.keys(PRESETS) as PresetName[]) {
    for (const server of Object.keys(SERVER_PROFILES) as ServerProfileName[]) {
      it(`${preset} against ${server}: ${expected[preset][server] ? 'permitted' : 'refused'}`, () => {
        const resolve = () => resolveKeepalive({ preset, server });
        if (expected[preset][server]) expect(resolve).not.toThrow();
        else expect(resolve).toThrow(ConfigError);
      });
    }
  }

  it("every preset's client is permitted by its own server side", () => {
    for (const { client, server } of Object.values(PRESETS)) {
      expect(() => resolveKeepalive({ ...client, server: server.permit })).not.toThrow();
    }
  });
});

describe('defaults: safe for the servers people run unless the server is declared', () => {
  it('undeclared: pings every 330 s, valid against grpc-go, grpc-java and gRPC core at their defaults', () => {
    const keepalive = resolveKeepalive(undefined);
    expect(keepalive).toEqual({
      keepaliveTimeMs: 330_000,
      keepaliveTimeoutMs: 5_000,
      permitWithoutCalls: false,
      connectTimeoutMs: 5_000,
      server: { minPingIntervalMs: 300_000, permitWithoutCalls: false },
    });
    expect(keepalive.server).toEqual(STRICTEST_SERVER_POLICY);
    for (const server of Object.keys(SERVER_PROFILES) as ServerProfileName[]) {
      expect(() =>
        resolveKeepalive({ keepaliveTimeMs: keepalive.keepaliveTimeMs, server }),
      ).not.toThrow();
    }
    expect(resolveKeepalive({})).toEqual(keepalive);
  });

  it.each<[unknown, number]>([
    [{ server: 'grpc-resilience' }, 30_000],
    [{ server: 'grpc-js' }, 30_000],
    ['in-cluster', 30_000],
    [{ preset: 'in-cluster' }, 30_000],
    ['through-proxy', 60_000],
    [{ server: 'grpc-go' }, 330_000],
    [{ server: { minPingIntervalMs: 60_000, permitWithoutCalls: false } }, 66_000],
  ])('%j pings every %d ms', (input, keepaliveTimeMs) => {
    expect(resolveKeepalive(input as never).keepaliveTimeMs).toBe(keepaliveTimeMs);
  });

  it('a named preset is validated against its own server side', () => {
    expect(resolveKeepalive('through-proxy').server).toEqual(
      PRESETS['through-proxy'].server.permit,
    );
    expect(() => resolveKeepalive({ preset: 'through-proxy', keepaliveTimeMs: 20_000 })).toThrow(
      'keepalive.keepaliveTimeMs must be at least 33000 ms: the server permits pings every 30000 ms (declared by the server side of keepalive.preset "through-proxy"',
    );
  });

  it('undeclared: a faster interval or idle pings name the option and how to declare the server', () => {
    expect(() => resolveKeepalive({ keepaliveTimeMs: 30_000 })).toThrow(
      'keepalive.keepaliveTimeMs must be at least 330000 ms: keepalive.server is not declared, so the strictest server defaults are assumed: grpc-go, grpc-java and gRPC core permit pings every 300000 ms (plus a 10% margin) and answer faster ones with GOAWAY too_many_pings, which fails the calls in flight; declare the server with keepalive.server ("grpc-resilience" for servers built with resilientServerOptions, "grpc-js", "grpc-go", "grpc-core", "grpc-java" or { minPingIntervalMs, permitWithoutCalls }), or raise keepalive.keepaliveTimeMs, received 30000',
    );
    expect(() => resolveKeepalive({ permitWithoutCalls: true }, 'orders.keepalive')).toThrow(
      /^orders\.keepalive\.permitWithoutCalls must be false: orders\.keepalive\.server is not declared/,
    );
  });
});

describe('validation', () => {
  it('names the option, the floor and why', () => {
    let error: ConfigError | undefined;
    try {
      resolveKeepalive({ preset: 'in-cluster', server: 'grpc-go' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.option).toBe('keepalive.keepaliveTimeMs');
    expect(error?.received).toBe(30_000);
    expect(error?.message).toMatch(
      /must be at least 330000 ms: the server permits pings every 300000 ms .* GOAWAY too_many_pings/,
    );
  });

  it('refuses pings without calls to a server that does not permit them', () => {
    expect(() =>
      resolveKeepalive({ keepaliveTimeMs: 400_000, permitWithoutCalls: true, server: 'grpc-go' }),
    ).toThrow(/keepalive.permitWithoutCalls must be false/);
  });

  it('keeps a safety margin above the server minimum', () => {
    const server = { minPingIntervalMs: 1000, permitWithoutCalls: false };
    expect(() => resolveKeepalive({ keepaliveTimeMs: 1050, server })).toThrow(/at least 1100 ms/);
    expect(resolveKeepalive({ keepaliveTimeMs: 1100, server }).keepaliveTimeMs).toBe(1100);
  });

  it.each<[unknown, string]>([
    [
      'in-kubernetes',
      'keepalive must be one of "in-cluster", "through-proxy", "conservative" or an object, received "in-kubernetes"',
    ],
    [
      { keepaliveTimeMs: -1 },
      'keepalive.keepaliveTimeMs must be an integer from 1 to 2147483647, received -1',
    ],
    [
      { server: 'grpc-rust' },
      'keepalive.server must be one of "grpc-resilience", "grpc-js", "grpc-go", "grpc-core", "grpc-java", received "grpc-rust"',
    ],
    [{ server: { minPingInterval: 1 } }, 'keepalive.server.minPingInterval is not a known option'],
    [{ keepaliveTime: 1 }, 'keepalive.keepaliveTime is not a known option'],
  ])('%j', (input, message) => {
    expect(() => resolveKeepalive(input as never)).toThrow(message);
  });
});

describe('grpc-js options', () => {
  it('client keys', () => {
    expect(clientKeepaliveChannelOptions(resolveKeepalive('through-proxy'))).toEqual({
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
  });

  it('server keys, with overrides', () => {
    expect(
      serverKeepaliveOptions(
        resolveServerKeepalive({ preset: 'in-cluster', maxConnectionAgeMs: 1000 }),
      ),
    ).toEqual({
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_connection_age_ms': 1000,
      'grpc.max_connection_age_grace_ms': 30_000,
      'grpc.max_connection_idle_ms': 60_000,
    });
    expect(() => resolveServerKeepalive({ maxConnectionAgeMs: 0 })).toThrow(
      'keepalive.maxConnectionAgeMs must be an integer',
    );
  });
});
