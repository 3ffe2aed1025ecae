import { Metadata, status as Status } from '@grpc/grpc-js';
import {
  REASON_METADATA_KEY,
  classifyStatus,
  isNeverSent,
  layerRefusalReason,
  statusOrigin,
} from './index';

// The layer's own refusals (an open circuit, the bulkhead, the throttle) carry a reason and
// nothing a peer sent: made up here, never sent, whatever their code.
const refusal = (reason: string, extra?: Record<string, string>) => {
  const metadata = new Metadata();
  metadata.set(REASON_METADATA_KEY, reason);
  for (const [key, value] of Object.entries(extra ?? {})) metadata.set(key, value);
  return { code: Status.UNAVAILABLE, details: 'circuit open for payments', metadata };
};

it("a refusal the layer made is local and never sent, not the server's", () => {
  for (const reason of ['circuit-open', 'bulkhead', 'throttled']) {
    expect(statusOrigin(refusal(reason))).toBe('local');
    expect(isNeverSent(refusal(reason))).toBe(true);
    expect(classifyStatus(refusal(reason))).toMatchObject({ origin: 'local', neverSent: true });
  }
});

it('the same reason in trailers a server sent is the server’s', () => {
  const forwarded = refusal('circuit-open', { 'x-served-by': 'b' });
  expect(statusOrigin(forwarded)).toBe('server');
  expect(isNeverSent(forwarded)).toBe(false);
});

it("layerRefusalReason names the layer's own refusal and nothing a server sent", () => {
  expect(layerRefusalReason(refusal('throttled'))).toBe('throttled');
  // A server kit's shed refusal, or a handler passing on its own client's refusal: the server's.
  expect(layerRefusalReason(refusal('overloaded', { 'content-type': 'application/grpc' }))).toBe(
    undefined,
  );
  expect(layerRefusalReason(refusal('circuit-open', { 'x-served-by': 'b' }))).toBe(undefined);
  expect(layerRefusalReason({ code: Status.UNAVAILABLE, metadata: new Metadata() })).toBe(
    undefined,
  );
});
