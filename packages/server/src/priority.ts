import type { Metadata } from '@grpc/grpc-js';
import { ConfigError, enumOption, isPlainObject } from '@grpc-resilience/status';

/** Request metadata that marks a call's priority: `critical` or `sheddable`. */
export const PRIORITY_METADATA_KEY = 'grpc-resilience-priority';

/** How much of the limit a call of each priority may use. */
export type Priority = 'critical' | 'normal' | 'sheddable';
const PRIORITIES: readonly Priority[] = ['critical', 'normal', 'sheddable'];
/**
 * Sheddable calls are refused once three quarters of the limit are in use, so they go first;
 * critical ones may exceed the limit by half, so they go last.
 */
export const SHARE: Readonly<Record<Priority, number>> = {
  sheddable: 0.75,
  normal: 1,
  critical: 1.5,
};

/** The priority a call's header asks for, or `fallback` (its method's). */
export function headerPriority(metadata: Metadata, fallback: Priority): Priority {
  const value = metadata.get(PRIORITY_METADATA_KEY)[0];
  return value === 'critical' || value === 'sheddable' ? value : fallback;
}

/** Validates `priorities` (by method path or service name); throws `ConfigError` naming it. */
export function resolvePriorities(value: unknown, path: string): ReadonlyMap<string, Priority> {
  if (value === undefined) return new Map();
  if (!isPlainObject(value))
    throw new ConfigError(path, 'must be an object of priorities by method or service', value);
  const map = new Map<string, Priority>();
  for (const [key, priority] of Object.entries(value))
    map.set(key, enumOption(`${path}.${key}`, priority, 'normal', PRIORITIES));
  return map;
}
