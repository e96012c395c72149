import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('accepts a burst, then refuses until tokens refill', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.take(50)).toBe(false);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(100)).toBe(false);
  });

  it('never holds more than the burst', () => {
    const bucket = new TokenBucket(10, 2, 0);
    const accepted = [1, 2, 3].map(() => bucket.take(60_000)).filter(Boolean);
    expect(accepted).toHaveLength(2);
  });

  it('sustains the configured rate', () => {
    const bucket = new TokenBucket(20, 1, 0);
    let accepted = 0;
    for (let t = 0; t < 10_000; t += 5) if (bucket.take(t)) accepted += 1;
    expect(accepted).toBeGreaterThanOrEqual(200);
    expect(accepted).toBeLessThanOrEqual(201);
  });

  it('ignores a clock that goes backwards', () => {
    const bucket = new TokenBucket(10, 1, 1000);
    expect(bucket.take(1000)).toBe(true);
    expect(bucket.take(0)).toBe(false);
  });
});
