import { credentials as Credentials, status as Status, type Call } from '@grpc/grpc-js';
import { callUnary } from '@grpc-resilience/testing';
import { targetForAddresses } from './index';
import { balancedClient, closeAll, load, startBackends, warmUp } from './lb-test.helper';

afterEach(closeAll);

it('a probe whose call ends before it starts is given back: the ejected endpoint recovers', async () => {
  const group = await startBackends(2);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    ejection: { consecutiveFailures: 1, baseEjectionMs: 100, maxEjectionMs: 100 },
  });
  await warmUp(client, group);
  const sick = group[1];
  sick.behaviour = { failCode: Status.UNAVAILABLE };
  await load(client, 4, 1); // one failure ejects it
  await new Promise((resolve) => setTimeout(resolve, 200)); // the ejection is over
  sick.behaviour = {};

  // Calls whose credentials never arrive: each is picked (the ejected endpoint's probe among
  // them, as the rotation passes it) but its stream never starts, and they are cancelled so.
  const stuck: Call[] = [];
  const never = Credentials.createFromMetadataGenerator(() => undefined);
  const outcomes = Array.from({ length: 4 }, () =>
    callUnary(
      client,
      'GetItem',
      {},
      {
        timeoutMs: 5000,
        callOptions: { credentials: never },
        onCall: (call) => stuck.push(call),
      },
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const call of stuck) call.cancel();
  for (const outcome of await Promise.all(outcomes))
    expect(outcome.status.code).toBe(Status.CANCELLED);

  // The lost probe is granted again after its grace: the healed endpoint serves again.
  sick.counters.reset();
  const until = Date.now() + 5000;
  while (sick.counters.calls < 10 && Date.now() < until)
    expect(await load(client, 20, 2)).toEqual([]);
  expect(sick.counters.calls).toBeGreaterThanOrEqual(10);
});
