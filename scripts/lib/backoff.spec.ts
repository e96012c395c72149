import fc from 'fast-check';
import { RECONNECT_BACKOFF, backoffCeiling, fullJitterDelay } from './backoff';

describe('backoff', () => {
  it('doubles the ceiling from 500 ms per attempt and stops at 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffCeiling(attempt))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(backoffCeiling(10_000)).toBe(RECONNECT_BACKOFF.capMs);
  });

  it('picks the delay anywhere from 0 to just below the ceiling (full jitter)', () => {
    expect(fullJitterDelay(3, RECONNECT_BACKOFF, () => 0)).toBe(0);
    expect(fullJitterDelay(3, RECONNECT_BACKOFF, () => 0.5)).toBe(2000);
    expect(fullJitterDelay(3, RECONNECT_BACKOFF, () => 0.999_999)).toBe(3999);
  });

  it('uses the policy it is given', () => {
    expect(fullJitterDelay(2, { baseMs: 10, capMs: 25 }, () => 0.5)).toBe(12);
  });

  it('stays within [0, ceiling) for any attempt and random draw', () => {
    fc.assert(
      fc.property(
        fc.nat(2000),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, draw) => {
          const delay = fullJitterDelay(attempt, RECONNECT_BACKOFF, () => draw);
          return Number.isInteger(delay) && delay >= 0 && delay < backoffCeiling(attempt);
        },
      ),
    );
  });
});
