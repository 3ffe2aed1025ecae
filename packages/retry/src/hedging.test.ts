import { Hedging, resolveHedgingOptions } from './hedging';
import { LatencyWindow } from './latency-window';

describe('the latency window', () => {
  it('gives nothing until warmed up, then the nearest-rank percentile', () => {
    const window = new LatencyWindow(0.95, 20);
    for (let i = 1; i <= 19; i++) window.record(i);
    expect(window.value()).toBeUndefined();
    window.record(20);
    expect(window.value()).toBe(19); // ceil(0.95 * 20) = 19th of 1..20
  });

  it('keeps the latest 256 and recomputes every 16 samples', () => {
    const window = new LatencyWindow(0.5, 1);
    for (let i = 0; i < 256; i++) window.record(1000);
    expect(window.value()).toBe(1000);
    for (let i = 0; i < 15; i++) window.record(1);
    expect(window.value()).toBe(1000); // not yet recomputed
    for (let i = 0; i < 256; i++) window.record(1);
    expect(window.value()).toBe(1); // the old samples have left the window
  });
});

describe('hedging', () => {
  it('clamps the delay between its floor and cap', () => {
    const hedging = new Hedging(resolveHedgingOptions('h', { minSamples: 1 })!);
    const window = hedging.window('/m');
    window.record(2);
    expect(hedging.delayMs(window)).toBe(10);
    const capped = new Hedging(resolveHedgingOptions('h', { minSamples: 1, maxDelayMs: 50 })!);
    const slow = capped.window('/m');
    slow.record(5000);
    expect(capped.delayMs(slow)).toBe(50);
  });

  it('allows maxExtraLoad hedges per call, with at most 10 banked', () => {
    const hedging = new Hedging(resolveHedgingOptions('h', true)!);
    for (let i = 0; i < 19; i++) hedging.recordCall();
    expect(hedging.canHedge).toBe(false);
    hedging.recordCall(); // 20 calls at 5%: one hedge
    expect(hedging.canHedge).toBe(true);
    hedging.spend();
    expect(hedging.canHedge).toBe(false);
    for (let i = 0; i < 10_000; i++) hedging.recordCall();
    let hedges = 0;
    while (hedging.canHedge) {
      hedging.spend();
      hedges++;
    }
    expect(hedges).toBe(10);
  });

  it('is off unless asked for; bad fields throw naming the option', () => {
    expect(resolveHedgingOptions('retry.hedging', undefined)).toBeUndefined();
    expect(resolveHedgingOptions('retry.hedging', false)).toBeUndefined();
    expect(resolveHedgingOptions('retry.hedging', true)).toEqual({
      percentile: 0.95,
      minDelayMs: 10,
      maxDelayMs: 1000,
      minSamples: 50,
      maxExtraLoad: 0.05,
    });
    // Finagle's one knob: the delay's percentile follows the extra load unless set.
    expect(resolveHedgingOptions('h', { maxExtraLoad: 0.02 })!.percentile).toBe(0.98);
    expect(resolveHedgingOptions('h', { maxExtraLoad: 0.8 })!.percentile).toBe(0.5);
    expect(resolveHedgingOptions('h', { maxExtraLoad: 0 })!.percentile).toBe(0.999);
    expect(resolveHedgingOptions('h', { maxExtraLoad: 0.02, percentile: 0.9 })!.percentile).toBe(
      0.9,
    );
    expect(() => resolveHedgingOptions('retry.hedging', { percentile: 1 })).toThrow(
      'retry.hedging.percentile must be a finite number from 0.5 to 0.999, received 1',
    );
    expect(() => resolveHedgingOptions('retry.hedging', { minSamples: 300 })).toThrow(
      'retry.hedging.minSamples',
    );
    expect(() => resolveHedgingOptions('retry.hedging', { delay: 5 })).toThrow('retry.hedging');
  });
});
