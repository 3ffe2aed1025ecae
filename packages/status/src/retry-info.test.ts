import { Metadata } from '@grpc/grpc-js';
import { fromJSON, type MethodDefinition } from '@grpc/proto-loader';
import {
  RETRY_INFO_TYPE_URL,
  STATUS_DETAILS_METADATA_KEY,
  readRetryInfoMs,
  retryInfoStatusDetails,
} from './retry-info';

// The real messages, encoded by a real protobuf runtime (proto-loader's), to check the hand-written
// wire format against: field numbers as in googleapis' status.proto and error_details.proto.
const definition = fromJSON(
  {
    nested: {
      google: {
        nested: {
          rpc: {
            nested: {
              Status: {
                fields: {
                  code: { type: 'int32', id: 1 },
                  message: { type: 'string', id: 2 },
                  details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
                },
              },
              RetryInfo: { fields: { retry_delay: { type: 'google.protobuf.Duration', id: 1 } } },
              Codec: {
                methods: {
                  StatusToRetryInfo: {
                    requestType: 'Status',
                    responseType: 'RetryInfo',
                    comment: '',
                  },
                },
              },
            },
          },
          protobuf: {
            nested: {
              Any: {
                fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } },
              },
              Duration: {
                fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } },
              },
            },
          },
        },
      },
    },
  },
  { keepCase: true, longs: Number, defaults: true },
);
const codec = definition['google.rpc.Codec'] as Record<string, MethodDefinition<unknown, unknown>>;
const statusCodec = codec.StatusToRetryInfo;
const encodeStatus = (value: unknown) => statusCodec.requestSerialize(value);
const decodeStatus = (buf: Buffer) =>
  statusCodec.requestDeserialize(buf) as {
    code: number;
    message: string;
    details: { type_url: string; value: Buffer }[];
  };
const encodeRetryInfo = (seconds: number, nanos: number) =>
  statusCodec.responseSerialize({ retry_delay: { seconds, nanos } });
const decodeRetryInfo = (buf: Buffer) =>
  statusCodec.responseDeserialize(buf) as { retry_delay: { seconds: number; nanos: number } };

function trailers(value: Buffer): Metadata {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_METADATA_KEY, value);
  return metadata;
}

function statusWithDelay(seconds: number, nanos: number): Buffer {
  return encodeStatus({
    code: 8,
    message: 'slow down',
    details: [
      { type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from([10, 1, 120]) },
      { type_url: RETRY_INFO_TYPE_URL, value: encodeRetryInfo(seconds, nanos) },
    ],
  });
}

describe('retryInfoStatusDetails', () => {
  it('encodes a google.rpc.Status that a protobuf runtime reads back', () => {
    const status = decodeStatus(retryInfoStatusDetails(8, 'quota exceeded, retry later', 1300.5));
    expect(status.code).toBe(8);
    expect(status.message).toBe('quota exceeded, retry later');
    expect(status.details).toHaveLength(1);
    expect(status.details[0].type_url).toBe(RETRY_INFO_TYPE_URL);
    expect(decodeRetryInfo(status.details[0].value).retry_delay).toEqual({
      seconds: 1,
      nanos: 300_500_000,
    });
  });

  it('refuses a delay or a code it cannot encode', () => {
    expect(() => retryInfoStatusDetails(8, 'x', -1)).toThrow(RangeError);
    expect(() => retryInfoStatusDetails(8, 'x', Number.NaN)).toThrow(RangeError);
    expect(() => retryInfoStatusDetails(8, 'x', 2 ** 31)).toThrow(RangeError);
    expect(() => retryInfoStatusDetails(17, 'x', 10)).toThrow(RangeError);
  });
});

describe('readRetryInfoMs', () => {
  it('reads what the encoder wrote', () => {
    for (const ms of [0, 1, 300, 999, 1000, 65_432, 2 ** 31 - 1]) {
      expect(readRetryInfoMs(trailers(retryInfoStatusDetails(14, 'unavailable', ms)))).toBe(ms);
    }
  });

  it('reads a RetryInfo among other details, rounding nanos up', () => {
    expect(readRetryInfoMs(trailers(statusWithDelay(1, 500_000_001)))).toBe(1501);
    expect(readRetryInfoMs(trailers(statusWithDelay(0, 0)))).toBe(0);
  });

  it('is undefined without the trailer, without a RetryInfo, or without a delay', () => {
    expect(readRetryInfoMs(undefined)).toBeUndefined();
    expect(readRetryInfoMs(new Metadata())).toBeUndefined();
    const noRetryInfo = encodeStatus({ code: 8, message: 'x', details: [] });
    expect(readRetryInfoMs(trailers(noRetryInfo))).toBeUndefined();
    const noDelay = encodeStatus({
      code: 8,
      message: 'x',
      details: [{ type_url: RETRY_INFO_TYPE_URL, value: Buffer.alloc(0) }],
    });
    expect(readRetryInfoMs(trailers(noDelay))).toBeUndefined();
  });

  it('says malformed for a negative delay, nanos out of range, or a delay no timer can wait', () => {
    expect(readRetryInfoMs(trailers(statusWithDelay(-1, 0)))).toBe('malformed');
    expect(readRetryInfoMs(trailers(statusWithDelay(0, -5)))).toBe('malformed');
    expect(readRetryInfoMs(trailers(statusWithDelay(0, 1_000_000_000)))).toBe('malformed');
    expect(readRetryInfoMs(trailers(statusWithDelay(3_000_000, 0)))).toBe('malformed');
  });

  it('says malformed for bytes that are not a google.rpc.Status', () => {
    const good = statusWithDelay(0, 300_000_000);
    expect(readRetryInfoMs(trailers(good.subarray(0, good.length - 3)))).toBe('malformed');
    expect(readRetryInfoMs(trailers(Buffer.from([0x1a, 0x05, 0x01])))).toBe('malformed');
    expect(readRetryInfoMs(trailers(Buffer.from([0x0b])))).toBe('malformed'); // a group
    expect(readRetryInfoMs(trailers(Buffer.from([0xff, 0xff, 0xff])))).toBe('malformed');
  });
});
