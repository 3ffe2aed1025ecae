import { ConfigError } from '@grpc-resilience/status';
import { createDedupInterceptor } from './index';

it('validates its options', () => {
  expect(() => createDedupInterceptor({ store: {} as never })).toThrow(
    /dedup.store must be a DedupStore/,
  );
  const badScope = { scope: 'global', claim() {}, complete() {}, release() {} };
  expect(() => createDedupInterceptor({ store: badScope as never })).toThrow(
    'dedup.store.scope must be one of "process", "shared", received "global"',
  );
  expect(() => createDedupInterceptor({ maxOutcomeBytes: -1 })).toThrow(ConfigError);
  expect(() => createDedupInterceptor({ scopeOf: 'peer' as never })).toThrow(
    /dedup.scopeOf must be a function/,
  );
});
