import { currentSignal, remainingTimeMs } from './index';

it('outside any handler, nothing is inherited', () => {
  expect(remainingTimeMs()).toBe(Infinity);
  expect(currentSignal()).toBeUndefined();
});
