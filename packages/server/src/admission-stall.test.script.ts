import * as grpc from '@grpc/grpc-js';
import { testServiceDefinition } from '@grpc-resilience/testing';
import { ResilientServer } from './index';

/**
 * A server with admission in a process of its own, for admission-stall.loopback.test.ts: the
 * test stops and resumes it with signals, as a busy machine deschedules a process. GetItem waits
 * `w<ms>` (I/O, never CPU). The parent asks for the admission's stats over IPC.
 */
const server = new ResilientServer({
  admission: { initialLimit: 8, minWindowSamples: 5 },
  health: false,
});
server.addService(testServiceDefinition(), {
  GetItem(
    call: grpc.ServerUnaryCall<{ value?: string }, unknown>,
    done: grpc.sendUnaryData<unknown>,
  ) {
    setTimeout(() => done(null, {}), Number(call.request.value?.slice(1)) || 0);
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.send?.({ port });
});
process.on('message', () => process.send?.({ stats: server.admission?.stats }));
process.on('disconnect', () => {
  server.forceShutdown();
  process.exit(0);
});
