import type * as grpc from '@grpc/grpc-js';
import type { BackendCounters } from './backend-counters';
import type { Behaviour } from './behaviour';
import { CallScript, type AnyServerCall } from './call-script';

interface ItemRequest {
  id: string;
  value: string;
}

/**
 * Handlers of the test service. Each follows its call's behaviour (see `Behaviour`): hang, delay,
 * fail before or after the side effect, stream then fail, push back.
 */
export function createTestHandlers(
  backendName: string,
  counters: BackendCounters,
  defaults: () => Behaviour = () => ({}),
): grpc.UntypedServiceImplementation {
  const script = (call: AnyServerCall, method: string) =>
    new CallScript(call, method, counters, defaults());

  function unary(
    method: string,
    isWrite: boolean,
    reply: (request: ItemRequest, run: CallScript) => object,
  ) {
    return async (
      call: grpc.ServerUnaryCall<ItemRequest, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ): Promise<void> => {
      const run = script(call, method);
      if (run.behaviour.hang || !(await run.wait(run.behaviour.delayMs))) return;
      if (run.fails && !run.behaviour.failAfterEffect) return run.answer(callback, run.failure());
      if (isWrite) counters.sideEffects++;
      if (run.fails) return run.answer(callback, run.failure());
      run.answer(callback, null, reply(call.request, run));
    };
  }

  const item = (request: ItemRequest, run: CallScript, seq = 0) => ({
    id: request.id,
    value: request.value,
    seq,
    backend: backendName,
    payload: run.payload(),
  });

  return {
    GetItem: unary('GetItem', false, item),
    PutItem: unary('PutItem', true, item),
    Charge: unary('Charge', true, () => ({
      chargeId: `${backendName}-${counters.sideEffects}`,
      backend: backendName,
    })),

    async ListItems(call: grpc.ServerWritableStream<{ count: number; prefix: string }, unknown>) {
      const run = script(call, 'ListItems');
      const { hang, delayMs, failAfterMessages, messages, messageIntervalMs } = run.behaviour;
      if (hang || !(await run.wait(delayMs))) return;
      if (run.fails && failAfterMessages === undefined)
        return run.answer(() => call.emit('error', run.failure()));
      const count = run.fails ? failAfterMessages! : (messages ?? (call.request.count || 3));
      for (let seq = 0; seq < count; seq++) {
        if (seq > 0 && !(await run.wait(messageIntervalMs))) return;
        if (run.cancelled) return;
        call.write(item({ id: `${call.request.prefix}${seq}`, value: '' }, run, seq));
      }
      if (run.fails) return run.answer(() => call.emit('error', run.failure()));
      run.answer(() => call.end());
    },

    UploadItems(
      call: grpc.ServerReadableStream<ItemRequest, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      const run = script(call, 'UploadItems');
      const ids: string[] = [];
      call.on('data', (request: ItemRequest) => {
        counters.messagesReceived++;
        ids.push(request.id);
      });
      call.on('end', async () => {
        if (run.behaviour.hang || !(await run.wait(run.behaviour.delayMs))) return;
        if (run.fails && !run.behaviour.failAfterEffect) return run.answer(callback, run.failure());
        counters.sideEffects++;
        if (run.fails) return run.answer(callback, run.failure());
        run.answer(callback, null, { count: ids.length, ids, backend: backendName });
      });
    },

    SyncItems(call: grpc.ServerDuplexStream<ItemRequest, unknown>) {
      const run = script(call, 'SyncItems');
      const { hang, delayMs, failAfterMessages, messageIntervalMs } = run.behaviour;
      let seq = 0;
      let ended = false;
      const fail = () => {
        ended = true;
        run.answer(() => call.emit('error', run.failure()));
      };
      // One queue for every step keeps replies in request order and the end after them.
      let queue: Promise<boolean> = hang ? new Promise(() => undefined) : run.wait(delayMs);
      const then = (step: () => Promise<boolean> | boolean) => {
        queue = queue.then((alive) => (alive && !ended ? step() : false));
      };
      then(() => {
        if (run.fails && failAfterMessages === undefined) fail();
        return true;
      });
      call.on('data', (request: ItemRequest) => {
        counters.messagesReceived++;
        then(async () => {
          if (seq > 0 && !(await run.wait(messageIntervalMs))) return false;
          if (run.fails && seq === failAfterMessages) {
            fail();
            return false;
          }
          call.write(item(request, run, seq++));
          return true;
        });
      });
      call.on('end', () =>
        then(() => {
          if (run.fails && seq === failAfterMessages) fail();
          else run.answer(() => call.end());
          ended = true;
          return false;
        }),
      );
    },
  };
}
