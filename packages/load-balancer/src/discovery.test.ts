import { status as Status } from '@grpc/grpc-js';
import { ConfigError } from '@grpc-resilience/status';
import { EjectingRoundRobinConfig } from './balancer';
import { Ejector, loadBalancingConfig, targetForAddresses } from './index';
import { P2cConfig } from './p2c-balancer';

describe('Ejector', () => {
  const unavailable = { code: Status.UNAVAILABLE, details: 'down' };
  const ok = { code: Status.OK, details: '' };
  function setup(now: { t: number }) {
    const ejector = new Ejector(
      () => now.t,
      () => 0.5,
    ); // no jitter at 0.5
    ejector.config = {
      consecutiveFailures: 3,
      baseEjectionMs: 100,
      maxEjectionMs: 400,
      maxEjectedShare: 0.5,
    };
    ejector.setEndpoints(['a', 'b', 'c', 'd']);
    return ejector;
  }

  it('ejects after N consecutive server failures; a success in between resets the count', () => {
    const now = { t: 0 };
    const ejector = setup(now);
    ejector.record('a', unavailable);
    ejector.record('a', unavailable);
    ejector.record('a', ok);
    ejector.record('a', unavailable);
    ejector.record('a', unavailable);
    expect(ejector.admit('a')).toBe(true);
    ejector.record('a', unavailable);
    expect(ejector.admit('a')).toBe(false);
    expect(ejector.ejected()).toEqual(['a']);
  });

  it('caller errors do not count', () => {
    const ejector = setup({ t: 0 });
    for (let i = 0; i < 10; i++)
      ejector.record('a', { code: Status.INVALID_ARGUMENT, details: '' });
    expect(ejector.ejected()).toEqual([]);
  });

  it('one probe when the time is up; failure ejects for twice as long, success readmits', () => {
    const now = { t: 0 };
    const ejector = setup(now);
    for (let i = 0; i < 3; i++) ejector.record('a', unavailable);
    now.t = 99;
    expect(ejector.admit('a')).toBe(false);
    now.t = 100;
    expect(ejector.admit('a')).toBe(true); // the probe
    expect(ejector.admit('a')).toBe(false); // only one
    ejector.record('a', unavailable);
    now.t = 299;
    expect(ejector.admit('a')).toBe(false);
    now.t = 300;
    expect(ejector.admit('a')).toBe(true);
    ejector.record('a', ok);
    expect(ejector.admit('a')).toBe(true);
    expect(ejector.ejected()).toEqual([]);
  });

  it('never ejects more than the share, nor all', () => {
    const ejector = setup({ t: 0 });
    for (const address of ['a', 'b', 'c', 'd'])
      for (let i = 0; i < 3; i++) ejector.record(address, unavailable);
    expect(ejector.ejected()).toEqual(['a', 'b']);
    const all = new Ejector(() => 0);
    all.config = {
      consecutiveFailures: 1,
      baseEjectionMs: 100,
      maxEjectionMs: 100,
      maxEjectedShare: 1,
    };
    all.setEndpoints(['a', 'b']);
    all.record('a', unavailable);
    all.record('b', unavailable);
    expect(all.ejected()).toEqual(['a']);
  });
});

describe('config', () => {
  it('validates ejection options with ConfigError', () => {
    expect(() => loadBalancingConfig({ ejection: { consecutiveFailures: 0 } })).toThrow(
      ConfigError,
    );
    expect(() => loadBalancingConfig({ ejection: { maxEjectedShare: 2 } })).toThrow(
      'loadBalancing.ejection.maxEjectedShare must be a finite number from 0 to 1, received 2',
    );
    expect(() => loadBalancingConfig({ policy: 'random' } as never)).toThrow(
      'loadBalancing.policy must be one of "p2c", "round_robin", received "random"',
    );
  });

  it('p2c by default; plain round_robin, ours, and ours wrapped in outlier_detection', () => {
    const [p2c] = loadBalancingConfig() as Record<string, unknown>[];
    expect(P2cConfig.createFromJson(p2c.grpc_resilience_p2c).decayMs).toBe(10_000);
    expect(() => loadBalancingConfig({ decayMs: 50 })).toThrow(
      'loadBalancing.decayMs must be an integer from 100 to 600000, received 50',
    );
    expect(() => loadBalancingConfig({ policy: 'round_robin', decayMs: 500 })).toThrow(
      'loadBalancing.decayMs applies to policy "p2c" only',
    );
    const rr = { policy: 'round_robin' } as const;
    expect(loadBalancingConfig({ ...rr, ejection: false })).toEqual([{ round_robin: {} }]);
    expect(
      loadBalancingConfig({ ...rr, outlierDetection: { interval: '10s' }, ejection: false }),
    ).toEqual([{ outlier_detection: { interval: '10s', child_policy: [{ round_robin: {} }] } }]);
    const [ours] = loadBalancingConfig(rr) as Record<string, unknown>[];
    expect(
      EjectingRoundRobinConfig.createFromJson(ours.grpc_resilience_round_robin).ejection
        .consecutiveFailures,
    ).toBe(5);
  });

  it('targets: ipv4 lists go to grpc-js, others to a static source', () => {
    expect(targetForAddresses(['127.0.0.1:1', '10.0.0.2:2'])).toBe('ipv4:127.0.0.1:1,10.0.0.2:2');
    expect(targetForAddresses(['localhost:1', '[::1]:2'])).toMatch(
      /^grpc-resilience:\/\/\/static-\d+$/,
    );
    expect(() => targetForAddresses([])).toThrow('addresses must hold at least one address');
    expect(() => targetForAddresses(['nope'])).toThrow(
      'addresses must hold host:port strings, received "nope"',
    );
  });
});
