import type { MethodPolicy, MethodsConfig } from './method-table';

/**
 * What a service definition says about its methods' idempotency: the methods the proto marks
 * IDEMPOTENT or NO_SIDE_EFFECTS, the service's full name, and whether the definition carries
 * proto method options at all (when it does not, silence about a method means nothing).
 */
export interface ServiceIdempotency {
  /** `/pkg.Service/Method` of each method the proto marks safe to retry, as `{ idempotent: true }`. */
  readonly methods: MethodsConfig;
  /** `/pkg.Service/Method` of every method the definition has, whatever its idempotency. */
  readonly paths: readonly string[];
  /** `pkg.Service`, or undefined when the definition names no method. */
  readonly serviceName: string | undefined;
  /**
   * True when the definition keeps proto method options: @grpc/proto-loader's `options` (also
   * behind proto-loader-gen-types' types) or ts-proto's generic definitions' `options` (what
   * nice-grpc uses). False for ts-proto's `outputServices=grpc-js` and grpc-tools' static code,
   * whose method entries have no options: every method then looks non-idempotent.
   */
  readonly carriesIdempotency: boolean;
}

// protobuf's MethodOptions.IdempotencyLevel: 0 IDEMPOTENCY_UNKNOWN, 1 NO_SIDE_EFFECTS, 2 IDEMPOTENT.
// proto-loader gives the enum's name (or its number with `enums: Number`); ts-proto, the name.
function isSafeLevel(level: unknown): boolean {
  return level === 'NO_SIDE_EFFECTS' || level === 'IDEMPOTENT' || level === 1 || level === 2;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Reads idempotency from any of the service definitions generated clients carry:
 * - a grpc-js `ServiceDefinition` (`Client.service`): proto-loader keeps each method's
 *   `options.idempotency_level`; ts-proto's `outputServices=grpc-js` and grpc-tools' static code
 *   keep no options, so they carry nothing;
 * - a generic definition `{ fullName, methods: { m: { name, options: { idempotencyLevel } } } }`,
 *   as ts-proto emits with `outputServices=generic-definitions` (and nice-grpc consumes).
 */
export function readServiceIdempotency(service: object): ServiceIdempotency {
  const entries = service as Readonly<Record<string, unknown>>;
  const methods: Record<string, MethodPolicy> = {};
  let serviceName: string | undefined;
  let carriesIdempotency = false;
  const paths: string[] = [];
  const mark = (path: string, options: unknown, level: unknown) => {
    paths.push(path);
    if (isObject(options)) carriesIdempotency = true;
    if (isSafeLevel(level)) methods[path] = { idempotent: true };
  };

  if (typeof entries.fullName === 'string' && isObject(entries.methods)) {
    serviceName = entries.fullName;
    for (const method of Object.values(entries.methods)) {
      if (!isObject(method) || typeof method.name !== 'string') continue;
      const options = method.options;
      mark(
        `/${serviceName}/${method.name}`,
        options,
        isObject(options) && options.idempotencyLevel,
      );
    }
  } else {
    for (const method of Object.values(entries)) {
      if (!isObject(method) || typeof method.path !== 'string') continue;
      serviceName ??= serviceNameOf(method.path);
      const options = method.options;
      mark(method.path, options, isObject(options) && options.idempotency_level);
    }
  }
  return { methods, paths, serviceName, carriesIdempotency };
}

function serviceNameOf(path: string): string {
  const end = path.lastIndexOf('/');
  return end > 0 ? path.slice(1, end) : path;
}

/** The part of a pino-like logger this module calls. */
export interface WarnLogger {
  warn(record: object, message: string): void;
}

/** Services already warned about, per logger, so that each is said once. */
const warned = new WeakMap<object, Set<string>>();

/** The `msg` of the record {@link warnIfNoIdempotency} writes. */
export const NO_IDEMPOTENCY_MESSAGE =
  'service definition carries no idempotency_level: every method is treated as non-idempotent ' +
  '(never retried once it may have been sent); mark methods with the `methods` option, e.g. ' +
  "{ '/pkg.Service/Method': { idempotent: true } }, or pass `service` a definition that keeps " +
  "the proto's `option idempotency_level` (@grpc/proto-loader, or ts-proto's " +
  'outputServices=generic-definitions)';

/**
 * Logs once per service and logger, at warn, that a service definition carries no idempotency
 * information, unless the `methods` option already names that service or one of its methods.
 * A logger that throws is ignored: a log record never fails client construction.
 */
export function warnIfNoIdempotency(
  logger: unknown,
  found: ServiceIdempotency,
  methodsOption: unknown,
): void {
  const service = found.serviceName;
  if (found.carriesIdempotency || service === undefined) return;
  if (!isObject(logger) || typeof logger.warn !== 'function') return;
  if (isObject(methodsOption)) {
    const prefix = `/${service}/`;
    if (Object.keys(methodsOption).some((key) => key === service || key.startsWith(prefix))) return;
  }
  let said = warned.get(logger);
  if (!said) warned.set(logger, (said = new Set()));
  if (said.has(service)) return;
  said.add(service);
  try {
    (logger as unknown as WarnLogger).warn({ service }, NO_IDEMPOTENCY_MESSAGE);
  } catch {
    // The user's logger failed; the client works the same without this record.
  }
}
