import { ConfigError, isResolvedOptions, resolveMethodTable } from '@grpc-resilience/status';
import {
  createDeadlineInterceptor,
  createServerContextInterceptor,
  resolveDeadlineOptions,
  type DeadlineOptions,
} from './index';

describe('deadline options', () => {
  it('defaults', () => {
    const resolved = resolveDeadlineOptions(undefined);
    expect(resolved).toMatchObject({
      defaultMs: 5000,
      streamDefaultMs: 1_800_000,
      minBudgetMs: 5,
      propagate: true,
      propagationMarginMs: 10,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it.each<[unknown, string, RegExp]>([
    [
      { defaultMs: -1 },
      'deadline.defaultMs',
      /must be an integer from 1 to 2147483647, received -1/,
    ],
    [{ defaultMs: Number.NaN }, 'deadline.defaultMs', /received NaN/],
    [{ defaultMs: 1.5 }, 'deadline.defaultMs', /received 1.5/],
    [{ defaultMs: '100' }, 'deadline.defaultMs', /received "100"/],
    [
      { streamDefaultMs: 0 },
      'deadline.streamDefaultMs',
      /must be an integer from 1 to 2147483647, received 0/,
    ],
    [{ streamDefaultMs: Infinity }, 'deadline.streamDefaultMs', /received Infinity/],
    [{ streamDefaultMs: '30m' }, 'deadline.streamDefaultMs', /received "30m"/],
    [{ minBudgetMs: -5 }, 'deadline.minBudgetMs', /from 0 to 60000/],
    [{ propagationMarginMs: 0.5 }, 'deadline.propagationMarginMs', /integer/],
    [{ propagate: 'yes' }, 'deadline.propagate', /true or false/],
    [{ defaultMS: 100 }, 'deadline.defaultMS', /not a known option/],
    [
      { methods: { 'pkg.Svc/Method': { timeoutMs: 10 } } },
      'deadline.methods["pkg.Svc/Method"]',
      /"\/package.Service\/Method" or "package.Service"/,
    ],
    [{ methods: { '/pkg.Svc/': {} } }, 'deadline.methods["/pkg.Svc/"]', /must be keyed by/],
    [
      { methods: { '/pkg.Svc/M': { timeoutMs: 0 } } },
      'deadline.methods["/pkg.Svc/M"].timeoutMs',
      /from 1/,
    ],
    [
      { methods: { '/pkg.Svc/M': { timeout: 10 } } },
      'deadline.methods["/pkg.Svc/M"].timeout',
      /not a known option/,
    ],
    [{ methods: [] }, 'deadline.methods', /keyed by method/],
    [42, 'deadline', /must be an object/],
  ])('%j throws ConfigError naming %s at construction', (options, option, message) => {
    let error: unknown;
    try {
      createDeadlineInterceptor(options as DeadlineOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
    expect((error as ConfigError).message).toMatch(message);
    expect((error as ConfigError).code).toBe('ERR_GRPC_RESILIENCE_CONFIG');
  });

  it('the server interceptor validates too', () => {
    expect(() => createServerContextInterceptor({ minBudgetMs: -1 })).toThrow(ConfigError);
    expect(() => createServerContextInterceptor({ floorMs: 1 } as never)).toThrow(
      /deadline.floorMs is not a known option/,
    );
  });
});

describe('one options shape', () => {
  it('resolved options are frozen, marked, and not validated again by the factory', () => {
    const resolved = resolveDeadlineOptions({ defaultMs: 700 });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(isResolvedOptions(resolved)).toBe(true);
    expect(isResolvedOptions({ ...resolved })).toBe(false); // a copy is plain input again
    expect(() => createDeadlineInterceptor(resolved)).not.toThrow();
  });

  it('a method table resolved by the caller refuses deadline.methods beside it', () => {
    const table = resolveMethodTable({});
    expect(() => resolveDeadlineOptions({ methods: {} }, 'deadline', table)).toThrow(
      'deadline.methods is given at the top level of this config (methods)',
    );
    expect(resolveDeadlineOptions({ defaultMs: 10 }, 'deadline', table).methods).toBe(table);
  });
});
