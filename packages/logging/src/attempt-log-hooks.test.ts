import { Metadata, status as Status } from '@grpc/grpc-js';
import { createLogSink } from '@grpc-resilience/testing';
import { attemptLogHooks } from './index';

const METHOD = '/pkg.Svc/Get';

it('one debug record per hedge, with the endpoint it avoids when there is one', () => {
  const sink = createLogSink();
  const hooks = attemptLogHooks(sink.logger);
  hooks.onHedge({ method: METHOD, attempt: 2, delayMs: 35, avoidPeer: '127.0.0.1:5001' });
  hooks.onHedge({ method: METHOD, attempt: 3, delayMs: 40, avoidPeer: undefined });
  const records = sink.find('grpc attempt slow, hedging');
  expect(records).toHaveLength(2);
  expect(records.map((r) => [r.level, r.grpc])).toEqual([
    [20, { method: METHOD, attempt: 2, delayMs: 35, avoidPeer: '127.0.0.1:5001' }],
    [20, { method: METHOD, attempt: 3, delayMs: 40 }],
  ]);
  expect(sink.records).toHaveLength(2);
});

it('writes nothing when debug is off', () => {
  const sink = createLogSink({ level: 'info' });
  const hooks = attemptLogHooks(sink.logger);
  const status = { code: Status.UNAVAILABLE, details: 'down', metadata: new Metadata() };
  hooks.onHedge({ method: METHOD, attempt: 2, delayMs: 35, avoidPeer: undefined });
  hooks.onRetry({ method: METHOD, attempt: 1, delayMs: 10, status });
  hooks.onGiveUp({ method: METHOD, attempts: 2, reason: 'max-attempts', status });
  expect(sink.records).toEqual([]);
});
