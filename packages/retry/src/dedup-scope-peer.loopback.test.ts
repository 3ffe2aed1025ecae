import * as grpc from '@grpc/grpc-js';
import { DEDUP_SCOPE_METADATA_KEY, methodsFromService } from '@grpc-resilience/status';
import { callUnary, loopbackFixture, testServiceClient } from '@grpc-resilience/testing';
import { DedupScopes, createRetryInterceptor } from './index';

/*
 * What the retry layer learns of the servers' dedup stores, and what it costs: the peer of an
 * answer (a getPeer() down the whole grpc-js chain) is asked for only once some server of the
 * target has declared a scope.
 */
const loop = loopbackFixture(afterEach);
const methods = methodsFromService(testServiceClient().service);
/** Request metadata asking the server below to declare this scope in its response headers. */
const DECLARE = 'x-test-declare-scope';

/** A server interceptor that declares the scope a call asks for, as the dedup interceptor would. */
const declaring: grpc.ServerInterceptor = (_method, call) => {
  let scope: string | undefined;
  return new grpc.ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMetadata(metadata, nextMetadata) {
          scope = metadata.get(DECLARE)[0] as string | undefined;
          nextMetadata(metadata);
        },
      });
    },
    sendMetadata(metadata, next) {
      if (scope !== undefined) metadata.set(DEDUP_SCOPE_METADATA_KEY, scope);
      next(metadata);
    },
  });
};

it('asks for the peer only once a server has declared a scope, then records every answer', async () => {
  const backend = await loop.backend({ serverOptions: { interceptors: [declaring] } });
  const scopes = new DedupScopes();
  let peerLookups = 0;
  // Just below the retry layer: counts the getPeer() calls the layer makes on its attempts.
  const countPeerLookups: grpc.Interceptor = (options, nextCall) => {
    const call = nextCall(options);
    const getPeer = call.getPeer.bind(call);
    call.getPeer = () => (peerLookups++, getPeer());
    return call as grpc.InterceptingCall;
  };
  const client = loop.client(backend.address, {
    interceptors: [createRetryInterceptor({ methods, dedupScopes: scopes }), countPeerLookups],
  });
  const call = (scope?: string) => {
    const metadata = new grpc.Metadata();
    if (scope !== undefined) metadata.set(DECLARE, scope);
    return callUnary(client, 'GetItem', {}, { metadata });
  };

  for (let i = 0; i < 5; i++) expect((await call()).status.code).toBe(grpc.status.OK);
  expect(peerLookups).toBe(0);
  expect(scopes.anyDeclared).toBe(false);
  expect(scopes.allShared).toBe(false);

  await call('shared');
  expect(peerLookups).toBe(1);
  expect(scopes.allShared).toBe(true);

  // Once a scope was declared, an answer that declares none is recorded: keyed retries stop.
  await call();
  expect(peerLookups).toBe(2);
  expect(scopes.allShared).toBe(false);
  expect(backend.counters.calls).toBe(7);
});
