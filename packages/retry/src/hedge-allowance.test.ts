import { HEDGE_BURST, HedgeAllowance } from './hedge-allowance';
import { seededRandom } from '@grpc-resilience/testing';

describe('the hedge allowance', () => {
  it('starts empty and earns exactly one hedge per 1 / maxExtraLoad calls', () => {
    const allowance = new HedgeAllowance(0.05);
    expect(allowance.tryTake()).toBe(false);
    for (let i = 0; i < 19; i++) allowance.recordCall();
    expect(allowance.available).toBe(false);
    allowance.recordCall(); // the 20th: 20 x 0.05 is one hedge, not 0.99999...
    expect(allowance.tryTake()).toBe(true);
    expect(allowance.tryTake()).toBe(false);
    expect(allowance.tokens).toBe(0);
  });

  it('banks at most HEDGE_BURST hedges', () => {
    const allowance = new HedgeAllowance(0.5);
    for (let i = 0; i < 10_000; i++) allowance.recordCall();
    let hedges = 0;
    while (allowance.tryTake()) hedges++;
    expect(hedges).toBe(HEDGE_BURST);
  });

  it('rounds the share down to thousandths, and 0 allows nothing', () => {
    const allowance = new HedgeAllowance(0.0999);
    for (let i = 0; i < 10; i++) allowance.recordCall();
    expect(allowance.tokens).toBe(0.99); // 10 x 0.099, never above the share asked for
    const none = new HedgeAllowance(0);
    for (let i = 0; i < 1000; i++) none.recordCall();
    expect(none.tryTake()).toBe(false);
  });

  it('spends the whole share when every call wants a hedge', () => {
    const allowance = new HedgeAllowance(0.05);
    let hedges = 0;
    for (let i = 1; i <= 1000; i++) {
      allowance.recordCall();
      if (allowance.tryTake()) hedges++;
      if (i % 100 === 0) expect(hedges).toBe(i / 20);
    }
  });

  // The bound the retry layer documents, over random mixes of calls and bursty hedge demand:
  // from the first call, hedges <= floor(share x calls); over any later run of N calls,
  // hedges <= share x N + what was banked when the run began (at most HEDGE_BURST).
  it.each([0.01, 0.05, 0.1, 0.25, 1])(
    'never lets more than %p of calls hedge, over the whole life or any run',
    (share) => {
      const random = seededRandom(Math.round(share * 1000));
      const allowance = new HedgeAllowance(share);
      const hedgeAt: number[] = []; // for each hedge taken, the calls made by then
      let calls = 0;
      let overLifeBound = 0;
      for (let step = 0; step < 5000; step++) {
        allowance.recordCall();
        calls++;
        // Most calls want no hedge, some several at once (a stalled server).
        const wanted = random() < 0.1 ? Math.floor(random() * 15) : 0;
        for (let i = 0; i < wanted && allowance.tryTake(); i++) hedgeAt.push(calls);
        if (hedgeAt.length > Math.floor(share * calls + 1e-9)) overLifeBound++;
      }
      expect(overLifeBound).toBe(0);
      expect(hedgeAt.length).toBeGreaterThan(0);
      let worstRunExcess = -Infinity; // hedges in a run minus share x its calls
      for (let from = 0; from < calls; from += 97) {
        for (const length of [20, 400, 2000]) {
          const inRun = hedgeAt.filter((c) => c > from && c <= from + length).length;
          worstRunExcess = Math.max(worstRunExcess, inRun - share * length);
        }
      }
      expect(worstRunExcess).toBeLessThanOrEqual(HEDGE_BURST);
    },
  );
});
