import { backoffDelayMs, retryDelayMs } from './backoff';

const backoff = (random: number) => ({
  initialBackoffMs: 100,
  maxBackoffMs: 2000,
  multiplier: 2,
  random: () => random,
});

describe('retryDelayMs', () => {
  it('without hints, is the full-jitter backoff', () => {
    expect(retryDelayMs(2, undefined, undefined, backoff(0.5))).toBe(
      backoffDelayMs(2, 100, 2000, 2, () => 0.5),
    );
    expect(retryDelayMs(2, undefined, undefined, backoff(0.5))).toBe(100);
  });

  it('takes a pushback as it is (gRFC A6)', () => {
    expect(retryDelayMs(3, 700, undefined, backoff(0.999))).toBe(700);
    expect(retryDelayMs(1, 0, undefined, backoff(0.999))).toBe(0);
  });

  it('waits at least the RetryInfo delay, then backs off from it', () => {
    expect(retryDelayMs(1, undefined, 300, backoff(0))).toBe(300);
    expect(retryDelayMs(1, undefined, 300, backoff(0.5))).toBe(350);
    expect(retryDelayMs(3, undefined, 300, backoff(0.5))).toBe(500);
  });

  it('with both, waits the longer', () => {
    expect(retryDelayMs(1, 1000, 300, backoff(0.5))).toBe(1000);
    expect(retryDelayMs(1, 100, 300, backoff(0.5))).toBe(350);
  });
});
