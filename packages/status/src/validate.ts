import { ConfigError } from './errors';

/**
 * Small validators shared by every package's `resolveXOptions()`. Each takes the option's dotted
 * path (for the error message), the received value and the default; `undefined` means "use the
 * default"; anything else must be valid or a {@link ConfigError} is thrown.
 */

export interface NumberRange {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
}

function rangeText({ min, max }: NumberRange): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}`;
  if (min !== undefined) return min === 0 ? 'that is not negative' : `of at least ${min}`;
  if (max !== undefined) return `of at most ${max}`;
  return '';
}

function inRange(value: number, { min, max }: NumberRange): boolean {
  return (min === undefined || value >= min) && (max === undefined || value <= max);
}

function checkedNumber(
  path: string,
  value: unknown,
  defaultValue: number,
  range: NumberRange,
  isKind: (value: number) => boolean,
  kind: string,
): number {
  if (value === undefined) return defaultValue;
  if (typeof value !== 'number' || !isKind(value) || !inRange(value, range)) {
    throw new ConfigError(path, `must be ${kind} ${rangeText(range)}`.trimEnd(), value);
  }
  return value;
}

/** An integer (such as a count or a whole number of milliseconds) within `range`. */
export function integerOption(
  path: string,
  value: unknown,
  defaultValue: number,
  range: NumberRange = {},
): number {
  return checkedNumber(path, value, defaultValue, range, Number.isInteger, 'an integer');
}

/** A finite number within `range`. */
export function numberOption(
  path: string,
  value: unknown,
  defaultValue: number,
  range: NumberRange = {},
): number {
  return checkedNumber(path, value, defaultValue, range, Number.isFinite, 'a finite number');
}

/** A boolean. */
export function booleanOption(path: string, value: unknown, defaultValue: boolean): boolean {
  if (value === undefined) return defaultValue;
  if (typeof value !== 'boolean') throw new ConfigError(path, 'must be true or false', value);
  return value;
}

/** One of a fixed set of strings. */
export function enumOption<T extends string>(
  path: string,
  value: unknown,
  defaultValue: T,
  allowed: readonly T[],
): T {
  if (value === undefined) return defaultValue;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(path, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
  }
  return value as T;
}

/** A function (a hook such as `now`, `random` or a listener). */
export function functionOption<T extends (...args: never[]) => unknown>(
  path: string,
  value: unknown,
  defaultValue: T,
): T {
  if (value === undefined) return defaultValue;
  if (typeof value !== 'function') throw new ConfigError(path, 'must be a function', value);
  return value as T;
}

/**
 * An options object: `undefined` gives `{}`; anything but a plain object throws; so does a key
 * not in `knownKeys`, which catches typos like `maxAttempt` that would otherwise be ignored.
 * Without `knownKeys` only the shape is checked: for a composer handing the object on to the
 * package whose `resolveXOptions` knows its keys, so the list lives in one place.
 */
export function objectOption(
  path: string,
  value: unknown,
  knownKeys?: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  // The root of a config has no path of its own: call it what the user passed.
  if (!isPlainObject(value)) throw new ConfigError(path || 'config', 'must be an object', value);
  for (const key of knownKeys === undefined ? [] : Object.keys(value)) {
    if (!knownKeys!.includes(key)) {
      const where = path === '' ? key : `${path}.${key}`;
      throw new ConfigError(
        where,
        `is not a known option (known: ${knownKeys!.join(', ')})`,
        value[key],
      );
    }
  }
  return value;
}

/** True for `{}`-style objects (not arrays, not class instances such as Metadata or Date). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const resolvedOptionObjects = new WeakSet<object>();

/**
 * Freezes the result of a package's `resolveXOptions` and remembers it, so that the factory it
 * is given to (`createXInterceptor(resolveXOptions(input, 'x'))`, as the channel composes them)
 * does not validate it again. Every package's options follow this one shape.
 */
export function resolvedOptions<T extends object>(options: T): Readonly<T> {
  resolvedOptionObjects.add(Object.freeze(options));
  return options;
}

/** Whether `options` came from a `resolveXOptions` (see {@link resolvedOptions}). */
export function isResolvedOptions(options: unknown): boolean {
  return typeof options === 'object' && options !== null && resolvedOptionObjects.has(options);
}
