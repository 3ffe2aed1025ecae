import {
  readServiceIdempotency,
  warnIfNoIdempotency,
  NO_IDEMPOTENCY_MESSAGE,
} from './service-idempotency';

const SERVICE = 'pkg.Svc';
const fn = () => undefined;

describe('readServiceIdempotency', () => {
  it("reads proto-loader's options.idempotency_level, by name or number", () => {
    const found = readServiceIdempotency({
      Get: { path: `/${SERVICE}/Get`, options: { idempotency_level: 'NO_SIDE_EFFECTS' } },
      Put: { path: `/${SERVICE}/Put`, options: { idempotency_level: 2 } },
      Charge: { path: `/${SERVICE}/Charge`, options: {} },
    });
    expect(found).toEqual({
      methods: {
        [`/${SERVICE}/Get`]: { idempotent: true },
        [`/${SERVICE}/Put`]: { idempotent: true },
      },
      paths: [`/${SERVICE}/Get`, `/${SERVICE}/Put`, `/${SERVICE}/Charge`],
      serviceName: SERVICE,
      carriesIdempotency: true,
    });
  });

  it("reads ts-proto's generic definitions (nice-grpc's) options.idempotencyLevel", () => {
    const found = readServiceIdempotency({
      name: 'Svc',
      fullName: SERVICE,
      methods: {
        get: { name: 'Get', options: { idempotencyLevel: 'IDEMPOTENT' } },
        charge: { name: 'Charge', options: {} },
      },
    });
    expect(found.methods).toEqual({ [`/${SERVICE}/Get`]: { idempotent: true } });
    expect(found.paths).toEqual([`/${SERVICE}/Get`, `/${SERVICE}/Charge`]);
    expect(found.carriesIdempotency).toBe(true);
  });

  it('finds nothing in grpc-tools / ts-proto grpc-js entries, which keep no options', () => {
    const found = readServiceIdempotency({
      put: { path: `/${SERVICE}/Put`, requestStream: false, requestSerialize: fn },
    });
    expect(found).toEqual({
      methods: {},
      paths: [`/${SERVICE}/Put`],
      serviceName: SERVICE,
      carriesIdempotency: false,
    });
  });
});

describe('warnIfNoIdempotency', () => {
  const silent = { methods: {}, paths: [], serviceName: SERVICE, carriesIdempotency: false };

  it('warns once per service and logger', () => {
    const warn = jest.fn();
    const logger = { warn };
    warnIfNoIdempotency(logger, silent, undefined);
    warnIfNoIdempotency(logger, silent, undefined);
    warnIfNoIdempotency(logger, { ...silent, serviceName: 'pkg.Other' }, undefined);
    expect(warn.mock.calls).toEqual([
      [{ service: SERVICE }, NO_IDEMPOTENCY_MESSAGE],
      [{ service: 'pkg.Other' }, NO_IDEMPOTENCY_MESSAGE],
    ]);
  });

  it('says nothing when the definition carries options or `methods` names the service', () => {
    const warn = jest.fn();
    warnIfNoIdempotency({ warn }, { ...silent, carriesIdempotency: true }, undefined);
    warnIfNoIdempotency({ warn }, silent, { [`/${SERVICE}/Put`]: { idempotent: true } });
    warnIfNoIdempotency({ warn }, silent, { [SERVICE]: { idempotent: false } });
    expect(warn).not.toHaveBeenCalled();
  });

  it('survives a logger that throws or has no warn', () => {
    const logger = {
      warn: () => {
        throw new Error('broken sink');
      },
    };
    expect(() => warnIfNoIdempotency(logger, silent, undefined)).not.toThrow();
    expect(() => warnIfNoIdempotency({ info: fn }, silent, undefined)).not.toThrow();
  });
});
