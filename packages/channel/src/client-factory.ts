import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  BALANCED_BREAKER_OPTIONS,
  createCircuitBreakerInterceptor,
  type CircuitBreakerInterceptor,
} from '@grpc-resilience/circuit-breaker';
import { createDeadlineInterceptor, resolveDeadlineOptions } from '@grpc-resilience/deadline';
import { createIdempotencyKeyInterceptor } from '@grpc-resilience/idempotency';
import { resolveKeepalive } from '@grpc-resilience/keepalive';
import { leaseTargetForAddresses } from '@grpc-resilience/load-balancer';
import { createClientLoggingInterceptor } from '@grpc-resilience/logging';
import { AdaptiveRetryBudget, RetryBudget, assertNoNativeRetries } from '@grpc-resilience/retry';
import {
  ConfigError,
  booleanOption,
  objectOption,
  readServiceIdempotency,
  resolveMethodTable,
  warnIfNoIdempotency,
} from '@grpc-resilience/status';
import { CLIENT_CONFIG_KEYS, type ResilientConfig } from './client-config';
import { composeChannelOptions } from './channel-options';
import { clientObservability } from './metrics-layer';
import { createRetryLayer } from './retry-layer';
import { sharedChannelFactory } from './shared-channels';
import { leaseTargetShares, type TargetSharesLease } from './target-shares';

const breakers = new WeakMap<object, CircuitBreakerInterceptor>();

/**
 * What only createResilientClient knows: the target, and whether it came as a list of addresses;
 * `shares` is filled in with the client's hold on its target's breaker and budget.
 */
interface TargetFacts {
  target?: string;
  forAddresses?: boolean;
  shares?: TargetSharesLease;
}

/**
 * Client options for any generated client constructor, as its third argument:
 * `new FooClient(target, credentials, resilientOptions(config))`. Validates the whole config once
 * (a `ConfigError` names the field's path) and composes, outermost first: your interceptors,
 * logging, deadline, idempotency key, circuit breaker, retry (which asks the breaker's retryGate
 * before each retry); keepalive, load balancing and a
 * shared channel with a connect watchdog go in the channel options. grpc-js never shows proto
 * options to interceptors, so pass `service: FooClient.service` for retries to know which methods
 * the proto marks idempotent, or use {@link createResilientClient}, which does. The clients built
 * from one result share its circuit breaker and retry budget: make one per target.
 */
export function resilientOptions(config: ResilientConfig = {}): grpc.ClientOptions {
  return buildClientOptions(config, {});
}

function buildClientOptions(config: ResilientConfig, facts: TargetFacts): grpc.ClientOptions {
  const input = objectOption('', config, CLIENT_CONFIG_KEYS);
  if (
    input.service !== undefined &&
    (typeof input.service !== 'object' || input.service === null)
  ) {
    throw new ConfigError(
      'service',
      'must be a service definition (Client.service)',
      input.service,
    );
  }
  // ts-proto's grpc-js output and grpc-tools' static code keep no proto options: say so once.
  const fromService =
    input.service === undefined ? undefined : readServiceIdempotency(input.service as object);
  if (fromService) warnIfNoIdempotency(input.logger, fromService, input.methods);
  const fromProto = fromService?.methods ?? {};
  const methods = resolveMethodTable(fromProto).merge(resolveMethodTable(input.methods, 'methods'));
  const logger = input.logger as Logger | undefined;
  if (logger !== undefined && typeof logger?.info !== 'function') {
    throw new ConfigError('logger', 'must be a pino logger', logger);
  }
  // Its keys are the logging package's to know (it names a wrong one `logging.<key>`).
  const logging = objectOption('logging', input.logging);
  if (logging.logger !== undefined) {
    throw new ConfigError(
      'logging.logger',
      'is given at the top level of this config (logger)',
      logging.logger,
    );
  }
  const interceptors = input.interceptors ?? [];
  if (!Array.isArray(interceptors) || interceptors.some((i) => typeof i !== 'function')) {
    throw new ConfigError(
      'interceptors',
      'must be an array of grpc-js interceptors',
      input.interceptors,
    );
  }

  const shared =
    facts.target === undefined ? {} : (facts.shares = sharedFor(facts.target, input)).shares;
  // Every deadline option but `methods`, which comes merged from the proto and `methods`.
  const deadline = createDeadlineInterceptor(
    resolveDeadlineOptions(input.deadline as never, 'deadline', methods),
  );
  const idempotencyKeys = booleanOption('idempotencyKeys', input.idempotencyKeys, true);
  const breaker =
    input.breaker === false
      ? undefined
      : (shared.breaker ??= createCircuitBreakerInterceptor({
          ...(isBalanced(input, facts) ? BALANCED_BREAKER_OPTIONS : {}),
          ...objectOption('breaker', input.breaker), // the breaker validates its own keys
          target: facts.target ?? 'target',
        }));
  const retry =
    input.retry === false
      ? undefined
      : createRetryLayer(input.retry, methods, logger, shared, breaker);
  const keepalive = resolveKeepalive(input.keepalive as never);

  const observability = clientObservability(input, {
    target: facts.target,
    service: input.service as object | undefined,
    breaker,
    budget: shared.budget instanceof AdaptiveRetryBudget ? shared.budget : undefined,
  });

  // Metrics and the call's span right inside the caller's own interceptors (so log records carry
  // the trace); per-attempt metrics and spans innermost, next to grpc-js.
  const chain: grpc.Interceptor[] = [
    ...(interceptors as grpc.Interceptor[]),
    ...observability.outer,
  ];
  if (logger) {
    const breakerState = breaker ? (method: string) => breaker.stateOf(method) : undefined;
    chain.push(createClientLoggingInterceptor({ ...logging, logger, breakerState }));
  }
  chain.push(deadline);
  if (idempotencyKeys) chain.push(createIdempotencyKeyInterceptor({ methods }));
  // The breaker outside the retry: it counts a logical call once, by its final outcome, and its
  // half-open probe is a whole call, retries included. The retry layer asks its retryGate before
  // each retry and hedge, so the retries of calls in flight are refused once the circuit opens,
  // with no interceptor level below the retry.
  if (breaker) chain.push(breaker.interceptor);
  if (retry) chain.push(retry);
  chain.push(...observability.inner);

  const channelOptions = composeChannelOptions(input, facts.forAddresses ?? false, keepalive);
  if (retry) assertNoNativeRetries(channelOptions);
  const options: grpc.ClientOptions = {
    ...channelOptions,
    interceptors: chain,
    channelFactoryOverride: sharedChannelFactory(keepalive.connectTimeoutMs),
  };
  if (breaker) breakers.set(options, breaker);
  return options;
}

function isBalanced(input: Record<string, unknown>, facts: TargetFacts): boolean {
  return (
    input.loadBalancing !== false &&
    ((facts.forAddresses ?? false) || input.loadBalancing !== undefined)
  );
}

/** Breakers and retry budgets per target and config, shared by the clients of one target. */
function sharedFor(target: string, input: Record<string, unknown>): TargetSharesLease {
  const budget = (input.retry as { budget?: unknown } | false | undefined) || undefined;
  return leaseTargetShares(
    `${target}\u0000${shareKey('breaker', input.breaker)}\u0000${shareKey('retry.budget', budget?.budget)}`,
  );
}

/**
 * The part of the share key one option gives: clients of a target share a breaker and a budget
 * only when these options are equal. A value JSON cannot spell (a cycle, a BigInt) is no option.
 */
function shareKey(path: string, value: unknown): string {
  if (value instanceof RetryBudget || value instanceof AdaptiveRetryBudget) {
    // The caller's own budget: its identity, not its changing counters.
    if (!budgetIds.has(value)) budgetIds.set(value, ++lastBudgetId);
    return `budget#${budgetIds.get(value)}`;
  }
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    throw new ConfigError(path, 'must hold plain values only (no cycles, no BigInt)', value);
  }
}
const budgetIds = new WeakMap<object, number>();
let lastBudgetId = 0;

/** A generated client constructor: proto-loader's, grpc-tools', or makeGenericClientConstructor's. */
export type ClientConstructor<T extends grpc.Client> = (new (
  target: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => T) & { service: grpc.ServiceDefinition | Readonly<Record<string, unknown>> };

/**
 * Builds a client with the whole layer: `createResilientClient(FooClient, target | addresses,
 * config)`. Reads idempotency from `FooClient.service`; a list of addresses is balanced
 * round-robin (with ejection) over all of them. Clients of one target share a channel, a circuit
 * breaker and a retry budget.
 */
export function createResilientClient<T extends grpc.Client>(
  Client: ClientConstructor<T>,
  target: string | readonly string[],
  config: ResilientConfig = {},
): T {
  if (typeof Client !== 'function' || Client.service === undefined) {
    throw new ConfigError(
      'Client',
      'must be a generated client constructor (with a static service)',
      Client,
    );
  }
  const forAddresses = Array.isArray(target);
  if (!forAddresses && (typeof target !== 'string' || target.length === 0)) {
    throw new ConfigError(
      'target',
      'must be a target string or an array of host:port addresses',
      target,
    );
  }
  const { credentials, ...rest } = objectOption('', config, CLIENT_CONFIG_KEYS) as ResilientConfig;
  if (credentials !== undefined && !(credentials instanceof grpc.ChannelCredentials)) {
    throw new ConfigError(
      'credentials',
      'must be grpc ChannelCredentials, such as grpc.credentials.createSsl()',
      credentials,
    );
  }
  const lease = forAddresses
    ? leaseTargetForAddresses(target as readonly string[], 'target')
    : undefined;
  const resolved = lease?.target ?? (target as string);
  const facts: TargetFacts = { target: resolved, forAddresses };
  let client: T;
  try {
    const options = buildClientOptions(
      { ...rest, service: config.service ?? Client.service },
      facts,
    );
    client = new Client(resolved, credentials ?? grpc.credentials.createInsecure(), options);
    const breaker = breakers.get(options);
    if (breaker) breakers.set(client, breaker);
  } catch (error) {
    facts.shares?.release();
    lease?.release();
    throw error;
  }
  releaseOnClose(client, () => {
    facts.shares?.release();
    lease?.release();
  });
  return client;
}

/**
 * Frees what a client holds in the process-wide tables (its share of the target's breaker and
 * budget, and the source of its address list) when the client closes: grpc-js's `close()`
 * releases the channel, this releases the rest, once.
 */
function releaseOnClose(client: grpc.Client, release: () => void): void {
  const close = client.close;
  let released = false;
  client.close = function (this: grpc.Client) {
    close.call(this);
    if (released) return;
    released = true;
    release();
  };
}

/** The circuit breaker of a client (or of options) built here, to read or watch its state. */
export function circuitBreakerOf(clientOrOptions: object): CircuitBreakerInterceptor | undefined {
  return breakers.get(clientOrOptions);
}
