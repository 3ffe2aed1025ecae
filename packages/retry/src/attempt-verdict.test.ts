import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import {
  DEADLINE_BUDGET_REASON,
  PUSHBACK_METADATA_KEY,
  REASON_METADATA_KEY,
  rejectedCall,
} from '@grpc-resilience/status';
import { attemptVerdict } from './attempt-verdict';
import { AdaptiveRetryBudget } from './index';

/*
 * The reason trailer says why a call was refused, not who refused it: the server kit sends it in
 * its trailers too. Only a refusal the layer made itself (its reason and nothing a peer sent)
 * tells nothing of the servers.
 */

/** The status the layer's own refusal ends with, as `rejectedCall` really delivers it. */
function localRefusal(code: Status, reason: string): Promise<StatusObject> {
  return new Promise((resolve) =>
    rejectedCall(code, 'refused here', reason).start(new Metadata(), {
      onReceiveStatus: resolve,
    }),
  );
}

/**
 * A status as grpc-js hands over a server's Trailers-Only answer: the server's trailers, and the
 * `content-type` every gRPC response carries.
 */
function fromServer(code: Status, trailers: Record<string, string>): StatusObject {
  const metadata = new Metadata();
  metadata.set('content-type', 'application/grpc+proto');
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details: 'from the server', metadata };
}

/** What the server kit's limiter answers a call over its limit. */
const SHED = fromServer(Status.RESOURCE_EXHAUSTED, {
  [REASON_METADATA_KEY]: 'overloaded',
  [PUSHBACK_METADATA_KEY]: '50',
});

describe('attemptVerdict: the reason trailer, by who sent it', () => {
  it("a server's shed refusal is rejected, though it carries a reason", () => {
    expect(attemptVerdict(SHED)).toBe('rejected');
  });

  it("a draining server's refusal is rejected too", () => {
    const draining = fromServer(Status.UNAVAILABLE, { [REASON_METADATA_KEY]: 'draining' });
    expect(attemptVerdict(draining)).toBe('rejected');
  });

  it("a server's refusal for a deadline too short is an answer, like its DEADLINE_EXCEEDED", () => {
    const tooLate = fromServer(Status.DEADLINE_EXCEEDED, {
      [REASON_METADATA_KEY]: DEADLINE_BUDGET_REASON,
    });
    expect(attemptVerdict(tooLate)).toBe('accepted');
  });

  it.each([
    [Status.UNAVAILABLE, 'throttled'],
    [Status.UNAVAILABLE, 'circuit-open'],
    [Status.RESOURCE_EXHAUSTED, 'bulkhead'],
    [Status.DEADLINE_EXCEEDED, DEADLINE_BUDGET_REASON],
  ])('the layer refusing %s (%s) itself is ignored', async (code, reason) => {
    expect(attemptVerdict(await localRefusal(code, reason))).toBe('ignored');
  });
});

describe("the adaptive budget, fed a server's shed refusals", () => {
  it('a retry the server refused keeps its token spent; a local refusal gives it back', async () => {
    const budget = new AdaptiveRetryBudget({ maxTokens: 2, throttle: false });
    expect(budget.tryAcquire()).toBe(true);
    budget.recordAttempt(await localRefusal(Status.UNAVAILABLE, 'throttled'), true);
    expect(budget.balance).toBe(2);
    expect(budget.tryAcquire()).toBe(true);
    budget.recordAttempt(SHED, true);
    expect(budget.balance).toBe(1);
  });

  it('the throttle counts each shed refusal as not accepted, and none it made itself', async () => {
    const budget = new AdaptiveRetryBudget({ now: () => 0, random: () => 0 });
    for (let i = 0; i < 10; i++) budget.recordAttempt(SHED, false);
    expect(budget.throttle?.window).toEqual({ requests: 10, accepts: 0 });
    expect(budget.throttle?.rejectProbability()).toBeGreaterThan(0);
    budget.recordAttempt(await localRefusal(Status.UNAVAILABLE, 'throttled'), false);
    expect(budget.throttle?.window).toEqual({ requests: 10, accepts: 0 });
  });
});
