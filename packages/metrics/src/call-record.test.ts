import { CallRecord } from './call-record';
import type { MethodAttributes } from './attributes';

const attributes = {} as MethodAttributes;

describe('CallRecord: what kind of attempt each one is (gRFC A96)', () => {
  test('after a never-sent attempt a transparent retry; after a server failure a retry', () => {
    const record = new CallRecord(attributes, 0);
    record.attemptStarted(0); // the original attempt
    record.attemptEnded(1, true); // never reached the server
    record.attemptStarted(3); // a transparent retry
    record.attemptEnded(4, false); // the server failed it
    record.attemptStarted(10); // a retry
    record.attemptStarted(12); // a hedge, the retry still in flight
    record.attemptEnded(13, true);
    record.attemptEnded(14, false);
    expect(record.attempts).toBe(4);
    expect([record.transparentRetries, record.retries, record.hedges]).toEqual([1, 1, 1]);
    // No attempt in flight from 1 to 3 and from 4 to 10.
    expect(record.retryDelayS).toBeCloseTo(0.008, 9);
  });

  test('a hedge is a hedge even when the attempt that ended before it never reached a server', () => {
    const record = new CallRecord(attributes, 0);
    record.attemptStarted(0);
    record.attemptStarted(1);
    record.attemptEnded(2, true);
    record.attemptStarted(3); // the second is still in flight
    expect([record.transparentRetries, record.retries, record.hedges]).toEqual([0, 0, 2]);
  });
});
