import { medianInterval, ratioSummary } from './measure';

/** 1..n in a shuffled order: the interval must not depend on the input's order. */
const shuffled = (n: number) => Array.from({ length: n }, (_, i) => ((i * 7) % n) + 1);

it("the median's 95 % interval is the sign test's order statistics (published tables)", () => {
  // Tables of the binomial sign test, p = 1/2, two-sided 95 %: [x(k), x(n-k+1)].
  expect(medianInterval(shuffled(6))).toEqual([1, 6]);
  expect(medianInterval(shuffled(9))).toEqual([2, 8]);
  expect(medianInterval(shuffled(12))).toEqual([3, 10]);
  expect(medianInterval(shuffled(40))).toEqual([14, 27]);
  expect(medianInterval(shuffled(100))).toEqual([40, 61]);
});

it('too few values for 95 % give no interval, and the summary then has none', () => {
  expect(medianInterval([1, 2, 3, 4, 5])).toBeUndefined();
  expect(ratioSummary([2, 4, 6], [1, 2, 3])).toEqual({ median: 2, min: 2, max: 2 });
  const summary = ratioSummary([1.1, 1.2, 0.9, 1.0, 1.3, 1.05], [1, 1, 1, 1, 1, 1]);
  expect([summary.medianLow, summary.medianHigh]).toEqual([0.9, 1.3]);
});
