import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Metadata, credentials, status as Status, type ChannelInterface } from '@grpc/grpc-js';
import {
  loopbackFixture,
  testServiceClient,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { resilientOptions } from './client-factory';
import { sharedChannelFactory } from './shared-channels';

// grpc-js keeps the objects under a finished call (its resolving, load-balancing and subchannel
// calls, the HTTP/2 stream) reachable until a mark-compact; each points up to its listener. These
// tests hold the channel's call as grpc-js does, and check that what is above it is not held:
// a full GC, with the channel's call still referenced, frees the caller's side.

const loop = loopbackFixture(afterEach);
const TestService = testServiceClient();
const GET_ITEM = '/grpc_resilience.test.v1.TestService/GetItem';

/** A real gc() whether or not node ran with --expose-gc (the flag can be set at run time). */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const gc = exposeGc();

/** Collects, letting the weak references of the previous turn go (WeakRef targets live a turn). */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}

/** Starts one GetItem on the channel; resolves with its status code and a weak ref to its listener. */
function callOnChannel(
  channel: ChannelInterface,
  kept: unknown[],
): { listener: WeakRef<object>; code: Promise<Status> } {
  let done!: (code: Status) => void;
  const code = new Promise<Status>((resolve) => (done = resolve));
  const listener = {
    onReceiveMetadata() {},
    onReceiveMessage() {},
    onReceiveStatus: (status: { code: Status }) => done(status.code),
  };
  const call = channel.createCall(GET_ITEM, Date.now() + 5000, null, null, null);
  kept.push(call); // as grpc-js's own objects below the call hold it
  call.start(new Metadata(), listener);
  const request = TestService.service.GetItem.requestSerialize({ id: 'a' });
  call.sendMessageWithContext({}, request);
  call.halfClose();
  call.startRead();
  return { listener: new WeakRef(listener), code };
}

it('the shared channel’s call lets go of its listener once the call has ended', async () => {
  const backend = await loop.backend();
  const channel = loop.keep(
    sharedChannelFactory(5000)(backend.address, credentials.createInsecure(), {}),
  );
  const kept: unknown[] = [];
  const calls = [1, 2, 3].map(() => callOnChannel(channel, kept));
  expect(await Promise.all(calls.map((c) => c.code))).toEqual([Status.OK, Status.OK, Status.OK]);
  await collect();
  expect(kept).toHaveLength(3);
  expect(calls.map((c) => c.listener.deref())).toEqual([undefined, undefined, undefined]);
});

it('a finished call of the whole default stack keeps no interceptor and no callback alive', async () => {
  const backend = await loop.backend();
  const options = resilientOptions({ service: TestService.service });
  // Keep every call the channel hands out, as grpc-js does until its next mark-compact.
  const kept: unknown[] = [];
  const factory = options.channelFactoryOverride!;
  options.channelFactoryOverride = (target, creds, channelOptions) => {
    const channel = factory(target, creds, channelOptions);
    const createCall = channel.createCall.bind(channel);
    channel.createCall = (...args) => {
      const call = createCall(...args);
      kept.push(call);
      return call;
    };
    return channel;
  };
  const client = loop.keep(
    new TestService(backend.address, credentials.createInsecure(), options),
  ) as TestServiceClient & {
    GetItem(request: object, callback: (error: Error | null) => void): unknown;
  };
  const oneCall = () => {
    const marker = { reachable: true }; // held by the callback alone
    const ended = new Promise<Error | null>((resolve) =>
      client.GetItem({ id: 'a' }, (error: Error | null) => {
        if (marker.reachable) resolve(error);
      }),
    );
    return { marker: new WeakRef(marker), ended };
  };
  const calls = [oneCall(), oneCall()];
  expect(await Promise.all(calls.map((c) => c.ended))).toEqual([null, null]);
  await collect();
  expect(kept).toHaveLength(2);
  expect(calls.map((c) => c.marker.deref())).toEqual([undefined, undefined]);
});
