import * as grpc from '@grpc/grpc-js';
import { testServiceClient } from '@grpc-resilience/testing';
import { createResilientClient, resilientOptions, resilientServerOptions } from './index';

/*
 * Each config that used to throw a TypeError from deep inside (or was accepted and crashed the
 * first call) throws a ConfigError at construction, naming the option.
 */
const circular: Record<string, unknown> = {};
circular.self = circular;
const client = (config: unknown) =>
  createResilientClient(testServiceClient(), '127.0.0.1:1', config as never);

it.each<[string, () => unknown, string]>([
  ['client config null', () => client(null), 'config'],
  ['credentials of the wrong type', () => client({ credentials: 'insecure' }), 'credentials'],
  ['a breaker with a cycle', () => client({ breaker: circular }), 'breaker'],
  ['a budget with a cycle', () => client({ retry: { budget: circular } }), 'retry.budget'],
  ['a budget with a BigInt', () => client({ retry: { budget: { ratio: 1n } } }), 'retry.budget'],
  [
    'a budget clock that is no function',
    () => resilientOptions({ retry: { budget: { now: 1 } } } as never),
    'retry.budget.now',
  ],
  [
    'a null service config',
    () => resilientOptions({ channelOptions: { 'grpc.service_config': null } } as never),
    'channelOptions["grpc.service_config"]',
  ],
  [
    'a logger without info',
    () => resilientOptions({ logger: { log: console.log } } as never),
    'logger',
  ],
  [
    'logging.redact not an array',
    () => resilientOptions({ logger: console, logging: { redact: 'x' } } as never),
    'logging.redact',
  ],
  // The factory checks only each section's shape; the package that owns it names a wrong key.
  [
    'a typo in logging',
    () => resilientOptions({ logger: console, logging: { sucessLevel: 'info' } } as never),
    'logging.sucessLevel',
  ],
  [
    'a typo in retry',
    () => resilientOptions({ retry: { maxAttempt: 2 } } as never),
    'retry.maxAttempt',
  ],
  [
    'a typo in breaker',
    () => resilientOptions({ breaker: { halfOpenAfter: 5 } } as never),
    'breaker.halfOpenAfter',
  ],
  ['a deadline that is no object', () => resilientOptions({ deadline: 5 } as never), 'deadline'],
  [
    'deadline.methods beside the top-level methods',
    () => resilientOptions({ deadline: { methods: {} } } as never),
    'deadline.methods',
  ],
  [
    'logging.logger beside the top-level logger',
    () => resilientOptions({ logging: { logger: console } } as never),
    'logging.logger',
  ],
  [
    'a typo in the server logging',
    () => resilientServerOptions({ logger: console, logging: { redcat: [] } } as never),
    'logging.redcat',
  ],
  [
    'a retry gate that is no function',
    () => resilientOptions({ retry: { retryGate: 42 } } as never),
    'retry.retryGate',
  ],
  [
    'load reports asked for with a string',
    () => resilientOptions({ loadBalancing: { useServerLoadReports: 'yes' } } as never),
    'loadBalancing.useServerLoadReports',
  ],
  [
    'server load reports of the wrong type',
    () => resilientServerOptions({ loadReports: 1 } as never),
    'loadReports',
  ],
  ['server config null', () => resilientServerOptions(null as never), 'config'],
  [
    'a server logger of the wrong shape',
    () => resilientServerOptions({ logger: 'console' } as never),
    'logging.logger',
  ],
  [
    'a server interceptor that is no function',
    () => resilientServerOptions({ interceptors: [1] } as never),
    'interceptors',
  ],
  [
    'a dedup store of the wrong shape',
    () => resilientServerOptions({ dedup: { store: {} } } as never),
    'dedup.store',
  ],
])('%s', (_name, build, option) => {
  let error: unknown;
  try {
    const built = build();
    if (built instanceof grpc.Client) built.close();
  } catch (e) {
    error = e;
  }
  expect(error).toMatchObject({ name: 'ConfigError', code: 'ERR_GRPC_RESILIENCE_CONFIG', option });
});
