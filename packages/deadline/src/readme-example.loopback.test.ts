// Mirrors the example in packages/deadline/README.md: keep the two in step.
import * as grpc from '@grpc/grpc-js';
import { testServiceClient, testServiceDefinition } from '@grpc-resilience/testing';
import {
  createDeadlineInterceptor,
  createServerContextInterceptor,
  currentSignal,
  remainingTimeMs,
  DEFAULT_PROPAGATION_MARGIN_MS,
} from '@grpc-resilience/deadline';

const TestService = testServiceClient(); // any generated client works the same way
const insecure = grpc.credentials.createInsecure();

async function listen(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return `127.0.0.1:${port}`;
}

it('README: a frontend calls a backend; the backend sees what is left and can stop early', async () => {
  // --- backend: reads the time left and the cancellation of the call it serves.
  const seenByBackend: number[] = [];
  const trulyLeftAtBackend: number[] = [];
  let callerDeadline = 0;
  const backend = new grpc.Server({ interceptors: [createServerContextInterceptor()] });
  backend.addService(testServiceDefinition(), {
    GetItem(
      call: grpc.ServerUnaryCall<{ id: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      seenByBackend.push(remainingTimeMs()); // ms left of the frontend's caller's deadline
      trulyLeftAtBackend.push(callerDeadline - Date.now());
      const timer = setTimeout(() => callback(null, { id: call.request.id }), 20);
      currentSignal()?.addEventListener('abort', () => clearTimeout(timer)); // stop work nobody awaits
    },
  });
  const backendAddress = await listen(backend);

  // --- frontend: its outgoing calls inherit the incoming deadline with no code in the handler.
  const toBackend = new TestService(backendAddress, insecure, {
    interceptors: [createDeadlineInterceptor({ defaultMs: 2000 })],
  });
  const frontend = new grpc.Server({ interceptors: [createServerContextInterceptor()] });
  frontend.addService(testServiceDefinition(), {
    GetItem(
      call: grpc.ServerUnaryCall<{ id: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      setTimeout(() => {
        // No deadline, no `parent` passed: inherited from the call being served.
        toBackend.GetItem({ id: call.request.id }, callback);
      }, 100);
    },
  });
  const frontendAddress = await listen(frontend);

  // --- a caller gives the frontend 500 ms.
  const caller = new TestService(frontendAddress, insecure);
  try {
    callerDeadline = Date.now() + 500;
    const reply = await new Promise((resolve, reject) =>
      caller.GetItem(
        { id: 'a' },
        { deadline: callerDeadline },
        (error: unknown, response: unknown) => (error ? reject(error) : resolve(response)),
      ),
    );
    expect(reply).toMatchObject({ id: 'a' });
    expect(seenByBackend[0]).toBeLessThanOrEqual(500 - 100 - 10); // minus the frontend's work and margin
    // What the backend sees is the caller's own deadline, not the frontend's 2 s default: what
    // truly remains less the propagation margin, or more (each hop re-anchors on arrival, so time
    // on the wire can only add to it; 2 ms for the wire's millisecond rounding), however slow the
    // machine is.
    expect(seenByBackend[0]).toBeGreaterThanOrEqual(
      trulyLeftAtBackend[0] - DEFAULT_PROPAGATION_MARGIN_MS - 2,
    );
  } finally {
    caller.close();
    toBackend.close();
    frontend.forceShutdown();
    backend.forceShutdown();
  }
});
