import { status as Status } from '@grpc/grpc-js';
import { PROPAGATED_CANCEL_PREFIX, classifyStatus, classifyStatusCode, statusName } from './index';

// [code, retry if idempotent, retry if not idempotent, breaker failure, fault] — docs/architecture.md's table.
const TABLE: [Status, boolean, boolean, boolean, string][] = [
  [Status.OK, false, false, false, 'none'],
  [Status.CANCELLED, false, false, false, 'caller'],
  [Status.UNKNOWN, false, false, true, 'server'],
  [Status.INVALID_ARGUMENT, false, false, false, 'caller'],
  [Status.DEADLINE_EXCEEDED, false, false, true, 'server'],
  [Status.NOT_FOUND, false, false, false, 'caller'],
  [Status.ALREADY_EXISTS, false, false, false, 'caller'],
  [Status.PERMISSION_DENIED, false, false, false, 'caller'],
  [Status.RESOURCE_EXHAUSTED, true, false, true, 'server'],
  [Status.FAILED_PRECONDITION, false, false, false, 'caller'],
  [Status.ABORTED, true, false, false, 'none'],
  [Status.OUT_OF_RANGE, false, false, false, 'caller'],
  [Status.UNIMPLEMENTED, false, false, false, 'caller'],
  [Status.INTERNAL, false, false, true, 'server'],
  [Status.UNAVAILABLE, true, false, true, 'server'],
  [Status.DATA_LOSS, false, false, true, 'server'],
  [Status.UNAUTHENTICATED, false, false, false, 'caller'],
];

describe('classifyStatusCode', () => {
  it('covers all 17 codes', () => {
    expect(TABLE.map(([code]) => code)).toEqual([...Array(17).keys()]);
  });

  it.each(TABLE)('%s', (code, ifIdempotent, ifNot, breaker, fault) => {
    expect(classifyStatusCode(code)).toMatchObject({
      code,
      name: Status[code],
      retryableIfIdempotent: ifIdempotent,
      retryableIfNotIdempotent: ifNot,
      breakerFailure: breaker,
      fault,
    });
  });

  it('treats a code outside the spec like UNKNOWN', () => {
    expect(classifyStatusCode(99)).toBe(classifyStatusCode(Status.UNKNOWN));
    expect(statusName(99)).toBe('CODE_99');
    expect(statusName(14)).toBe('UNAVAILABLE');
  });

  it('returns frozen shared objects (no allocation on the hot path)', () => {
    expect(classifyStatusCode(14)).toBe(classifyStatusCode(14));
    expect(Object.isFrozen(classifyStatusCode(14))).toBe(true);
  });
});

describe('classifyStatus (server-returned statuses keep the table)', () => {
  // CANCELLED from the server is the exception: the caller did not ask for it (tested below).
  it.each(TABLE.filter(([code]) => code !== Status.CANCELLED))(
    '%s from the server',
    (code, ifIdempotent, ifNot, breaker, fault) => {
      expect(classifyStatus({ code, details: 'from the handler' })).toMatchObject({
        retryableIfIdempotent: ifIdempotent,
        retryableIfNotIdempotent: ifNot,
        breakerFailure: breaker,
        fault,
        origin: 'server',
      });
    },
  );

  it("CANCELLED sent by the server (e.g. shutting down) is not the caller's fault", () => {
    expect(
      classifyStatus({ code: Status.CANCELLED, details: 'server shutting down' }),
    ).toMatchObject({
      origin: 'server',
      fault: 'server',
      retryableIfIdempotent: true,
      breakerFailure: true,
    });
  });
});

describe('classifyStatus refinements by origin', () => {
  it('a request never sent is retryable even when not idempotent', () => {
    const result = classifyStatus({
      code: Status.UNAVAILABLE,
      details: 'No connection established. Last error: x',
    });
    expect(result).toMatchObject({
      origin: 'local',
      neverSent: true,
      retryableIfNotIdempotent: true,
    });
    expect(
      classifyStatus({ code: Status.UNAVAILABLE, details: 'Stream refused by server' }).neverSent,
    ).toBe(true);
    expect(
      classifyStatus({
        code: Status.UNAVAILABLE,
        details: 'round_robin: No connection established. Last error: y',
      }).neverSent,
    ).toBe(true);
  });

  it('a dropped connection may have been processed: only if idempotent', () => {
    const result = classifyStatus({ code: Status.UNAVAILABLE, details: 'Connection dropped' });
    expect(result).toMatchObject({
      origin: 'transport',
      neverSent: false,
      retryableIfIdempotent: true,
      retryableIfNotIdempotent: false,
    });
  });

  it("a message over the size limit is the caller's error", () => {
    for (const details of [
      'Received message larger than max (2000 vs 100)',
      'Attempted to send message with a size larger than 10',
    ]) {
      expect(classifyStatus({ code: Status.RESOURCE_EXHAUSTED, details })).toMatchObject({
        retryableIfIdempotent: false,
        breakerFailure: false,
        fault: 'caller',
      });
    }
  });

  it("a connection closed by the server's ping enforcement is the caller's keepalive, not the server", () => {
    // grpc-js's text for RST_STREAM ENHANCE_YOUR_CALM, which GOAWAY too_many_pings causes.
    const details = 'Bandwidth exhausted or memory limit exceeded';
    expect(classifyStatus({ code: Status.RESOURCE_EXHAUSTED, details, rstCode: 11 })).toMatchObject(
      {
        origin: 'local',
        fault: 'caller',
        neverSent: false,
        retryableIfIdempotent: false,
        retryableIfNotIdempotent: false,
        breakerFailure: false,
      },
    );
    // The same text in a server's trailers (a proxy or server forwarding it) is its answer.
    const trailers = { getMap: () => ({ 'content-type': 'application/grpc' }) };
    expect(
      classifyStatus({ code: Status.RESOURCE_EXHAUSTED, details, metadata: trailers }),
    ).toMatchObject({
      origin: 'server',
      fault: 'server',
      retryableIfIdempotent: true,
      breakerFailure: true,
    });
  });

  it("a CANCELLED the caller asked for is the caller's; one from a reset is a transport failure", () => {
    expect(
      classifyStatus({ code: Status.CANCELLED, details: 'Cancelled on client' }),
    ).toMatchObject({
      origin: 'local',
      breakerFailure: false,
      retryableIfIdempotent: false,
      fault: 'caller',
    });
    expect(
      classifyStatus({ code: Status.CANCELLED, details: 'Call cancelled', rstCode: 8 }),
    ).toMatchObject({
      origin: 'transport',
      breakerFailure: true,
      retryableIfIdempotent: true,
      retryableIfNotIdempotent: false,
    });
  });

  it("a cancel propagated from the incoming call is nobody's failure downstream", () => {
    const details = `${PROPAGATED_CANCEL_PREFIX}/pkg.Up/Call (cancelled by the client)`;
    expect(classifyStatus({ code: Status.CANCELLED, details })).toMatchObject({
      origin: 'local',
      breakerFailure: false,
      retryableIfIdempotent: false,
    });
  });

  it('an INTERNAL made up for a stream reset is a transport failure', () => {
    const result = classifyStatus({
      code: Status.INTERNAL,
      details:
        'Received RST_STREAM with code 2 triggered by internal client error: Session closed with error code 2',
      rstCode: 2,
    });
    expect(result).toMatchObject({
      origin: 'transport',
      retryableIfIdempotent: true,
      breakerFailure: true,
    });
  });

  it('DEADLINE_EXCEEDED is never retryable, wherever it came from', () => {
    for (const details of [
      'Deadline exceeded after 0.301s,remote_addr=127.0.0.1:1',
      'upstream timed out',
    ]) {
      expect(
        classifyStatus({ code: Status.DEADLINE_EXCEEDED, details }).retryableIfIdempotent,
      ).toBe(false);
    }
  });

  it('OK is not a failure', () => {
    expect(classifyStatus({ code: Status.OK, details: '' })).toMatchObject({
      breakerFailure: false,
      origin: 'server',
    });
  });
});
