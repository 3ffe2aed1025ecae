import {
  CONFIG_ERROR_CODE,
  ConfigError,
  GrpcResilienceError,
  booleanOption,
  enumOption,
  functionOption,
  integerOption,
  numberOption,
  objectOption,
} from './index';

describe('ConfigError', () => {
  it('names the option, what is allowed and the value', () => {
    const error = new ConfigError('retry.maxAttempts', 'must be an integer from 1 to 5', 0);
    expect(error).toBeInstanceOf(GrpcResilienceError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.code).toBe(CONFIG_ERROR_CODE);
    expect(error.code).toBe('ERR_GRPC_RESILIENCE_CONFIG');
    expect(error.option).toBe('retry.maxAttempts');
    expect(error.received).toBe(0);
    expect(error.message).toBe('retry.maxAttempts must be an integer from 1 to 5, received 0');
  });
});

describe('option validators', () => {
  const thrown = (fn: () => unknown): ConfigError => {
    try {
      fn();
    } catch (error) {
      return error as ConfigError;
    }
    throw new Error('did not throw');
  };

  it('integerOption: default, accepts in range, rejects NaN, fractions, strings, out of range', () => {
    expect(integerOption('a.b', undefined, 3, { min: 1, max: 5 })).toBe(3);
    expect(integerOption('a.b', 5, 3, { min: 1, max: 5 })).toBe(5);
    for (const bad of [0, 6, 2.5, Number.NaN, '3', null, Infinity]) {
      const error = thrown(() => integerOption('a.b', bad, 3, { min: 1, max: 5 }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.option).toBe('a.b');
      expect(error.message).toMatch(/^a\.b must be an integer from 1 to 5, received /);
    }
    expect(thrown(() => integerOption('ms', -1, 0, { min: 0 })).message).toBe(
      'ms must be an integer that is not negative, received -1',
    );
  });

  it('numberOption accepts fractions but not NaN or Infinity', () => {
    expect(numberOption('r', 0.2, 0.1, { min: 0, max: 1 })).toBe(0.2);
    expect(() => numberOption('r', Number.NaN, 0.1)).toThrow(
      'r must be a finite number, received NaN',
    );
    expect(() => numberOption('r', 2, 0.1, { min: 0, max: 1 })).toThrow(ConfigError);
  });

  it('booleanOption, enumOption and functionOption', () => {
    expect(booleanOption('x', undefined, true)).toBe(true);
    expect(() => booleanOption('x', 'yes', true)).toThrow(
      'x must be true or false, received "yes"',
    );
    expect(enumOption('scope', 'method', 'target', ['target', 'method'])).toBe('method');
    expect(() => enumOption('scope', 'host', 'target', ['target', 'method'])).toThrow(
      'scope must be one of "target", "method", received "host"',
    );
    const fn = () => 1;
    expect(functionOption('now', fn, Date.now)).toBe(fn);
    expect(() => functionOption('now', 1, Date.now)).toThrow('now must be a function, received 1');
  });

  it('objectOption rejects non-objects and unknown keys, naming the path', () => {
    expect(objectOption('retry', undefined, ['maxAttempts'])).toEqual({});
    expect(() => objectOption('retry', [], ['maxAttempts'])).toThrow('retry must be an object');
    const error = thrown(() => objectOption('retry', { maxAttempt: 3 }, ['maxAttempts']));
    expect(error.option).toBe('retry.maxAttempt');
    expect(error.message).toBe(
      'retry.maxAttempt is not a known option (known: maxAttempts), received 3',
    );
  });
});
