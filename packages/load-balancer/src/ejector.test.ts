import { status as Status } from '@grpc/grpc-js';
import { PROPAGATED_CANCEL_PREFIX } from '@grpc-resilience/status';
import { Ejector } from './index';
import { PROBE_START_GRACE_MS } from './ejector';

const A = '10.0.0.1:50051';
const B = '10.0.0.2:50051';

function ejector(now: { ms: number }): Ejector {
  const e = new Ejector(
    () => now.ms,
    () => 0.5, // no jitter: an ejection lasts exactly its period
  );
  e.config = {
    consecutiveFailures: 2,
    baseEjectionMs: 1000,
    maxEjectionMs: 8000,
    maxEjectedShare: 1,
  };
  e.setEndpoints([A, B]);
  return e;
}

const unavailable = { code: Status.UNAVAILABLE, details: 'injected UNAVAILABLE' };
/** What grpc-js's own deadline timer reports (resolving-call.ts). */
const ownDeadline = {
  code: Status.DEADLINE_EXCEEDED,
  details: 'Deadline exceeded after 6.001s,LB pick: 0s,remote_addr=10.0.0.1:50051',
};
const propagatedCancel = {
  code: Status.CANCELLED,
  details: `${PROPAGATED_CANCEL_PREFIX}/pkg.Svc/Watch (cancelled by the client)`,
};

describe('what counts against an endpoint', () => {
  it('a stream that ends by its own deadline never counts, however many', () => {
    const now = { ms: 0 };
    const e = ejector(now);
    for (let i = 0; i < 10; i++) e.record(A, ownDeadline, 5000);
    expect(e.ejected()).toEqual([]);
  });

  it("a stream's DEADLINE_EXCEEDED from the server after its deadline passed never counts", () => {
    const now = { ms: 6000 };
    const e = ejector(now);
    const fromServer = { code: Status.DEADLINE_EXCEEDED, details: 'inventory timed out' };
    for (let i = 0; i < 10; i++) e.record(A, fromServer, 5000);
    expect(e.ejected()).toEqual([]);
    // Before the stream's deadline, the server's DEADLINE_EXCEEDED is its own failure.
    e.record(A, fromServer, 60_000);
    e.record(A, fromServer, 60_000);
    expect(e.ejected()).toEqual([A]);
  });

  it('a unary call (no stream deadline) that times out still counts', () => {
    const e = ejector({ ms: 0 });
    e.record(A, ownDeadline);
    e.record(A, ownDeadline);
    expect(e.ejected()).toEqual([A]);
  });

  it('propagated and client cancels never count, and do not hide failures around them', () => {
    const e = ejector({ ms: 0 });
    for (let i = 0; i < 10; i++) e.record(A, propagatedCancel);
    e.record(A, { code: Status.CANCELLED, details: 'Cancelled on client' });
    expect(e.ejected()).toEqual([]);
    // Neutral outcomes neither count nor reset: two failures in a row around them eject.
    e.record(B, unavailable);
    e.record(B, propagatedCancel);
    e.record(B, unavailable);
    expect(e.ejected()).toEqual([B]);
  });

  it('a probe that ends neutral frees the probe: the next pick probes again', () => {
    const now = { ms: 0 };
    const e = ejector(now);
    e.record(A, unavailable);
    e.record(A, unavailable);
    expect(e.admit(A)).toBe(false);
    now.ms = 1000;
    expect(e.admit(A)).toBe(true); // the probe
    expect(e.admit(A)).toBe(false); // one at a time
    e.record(A, propagatedCancel);
    expect(e.admit(A)).toBe(true); // another probe, not stuck behind the cancelled one
    e.record(A, { code: Status.OK, details: 'OK' });
    expect(e.ejected()).toEqual([]);
  });

  it('a probe whose call never starts (re-picked, or ended before its stream) is granted again after the grace', () => {
    const now = { ms: 0 };
    const e = ejector(now);
    e.record(A, unavailable);
    e.record(A, unavailable);
    now.ms = 1000;
    expect(e.admit(A)).toBe(true); // granted; grpc-js then re-picks or cancels before start
    now.ms = 1000 + PROBE_START_GRACE_MS - 1;
    expect(e.admit(A)).toBe(false);
    now.ms = 1000 + PROBE_START_GRACE_MS;
    expect(e.admit(A)).toBe(true); // the lost probe is given back
    e.started(A);
    now.ms += PROBE_START_GRACE_MS * 2;
    expect(e.admit(A)).toBe(false); // a started probe is waited for…
    now.ms = 1000 + PROBE_START_GRACE_MS + 8000;
    expect(e.admit(A)).toBe(true); // …up to the longest ejection
    e.record(A, { code: Status.OK, details: 'OK' });
    expect(e.ejected()).toEqual([]);
  });
});

describe('the success path and the ejection count the picker reads on every pick', () => {
  it('succeeded() readmits a probing endpoint as an OK record does, and hasEjections follows every change', () => {
    const now = { ms: 0 };
    const e = ejector(now);
    e.config = { ...e.config, maxEjectedShare: 0.5 }; // one of the two at most
    expect(e.hasEjections()).toBe(false);
    e.record(A, unavailable);
    e.succeeded(A); // resets the count: two more failures are needed
    e.record(A, unavailable);
    expect(e.hasEjections()).toBe(false);
    e.record(A, unavailable);
    expect(e.ejected()).toEqual([A]);
    expect(e.hasEjections()).toBe(true);
    for (let i = 0; i < 3; i++) e.record(B, unavailable);
    expect(e.ejected()).toEqual([A]); // the cap holds with the kept count
    now.ms = 1000;
    expect(e.admit(A)).toBe(true); // the probe
    e.record(A, unavailable); // fails: ejected again, still one ejection
    expect(e.ejected()).toEqual([A]);
    now.ms = 3000;
    expect(e.admit(A)).toBe(true);
    e.succeeded(A);
    expect(e.ejected()).toEqual([]);
    expect(e.hasEjections()).toBe(false);
    for (let i = 0; i < 2; i++) e.record(B, unavailable);
    expect(e.ejected()).toEqual([B]);
    e.setEndpoints([A]); // B leaves while ejected
    expect(e.hasEjections()).toBe(false);
  });
});
