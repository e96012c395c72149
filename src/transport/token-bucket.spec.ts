import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('accepts a burst, then refuses until tokens refill', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([0, 0, 0, 0].map((t) => bucket.takeAt(t))).toEqual([true, true, true, false]);
    expect(bucket.takeAt(50)).toBe(false);
    expect(bucket.takeAt(100)).toBe(true);
    expect(bucket.takeAt(100)).toBe(false);
  });

  it('never holds more than the burst', () => {
    const bucket = new TokenBucket(10, 2, 0);
    const accepted = [1, 2, 3].map(() => bucket.takeAt(60_000)).filter(Boolean);
    expect(accepted).toHaveLength(2);
  });

  it('sustains the configured rate', () => {
    const bucket = new TokenBucket(20, 1, 0);
    let accepted = 0;
    for (let t = 0; t < 10_000; t += 5) if (bucket.takeAt(t)) accepted += 1;
    expect(accepted).toBeGreaterThanOrEqual(200);
    expect(accepted).toBeLessThanOrEqual(201);
  });

  it('ignores a clock that goes backwards', () => {
    const bucket = new TokenBucket(10, 1, 1000);
    expect(bucket.takeAt(1000)).toBe(true);
    expect(bucket.takeAt(0)).toBe(false);
  });

  it('takes a cost of several tokens, or none when it has fewer', () => {
    const bucket = new TokenBucket(10, 8, 0);
    expect(bucket.takeAt(0, 5)).toBe(true);
    expect(bucket.takeAt(0, 5)).toBe(false);
    expect(bucket.takeAt(0, 3)).toBe(true);
    expect(bucket.takeAt(0, 1)).toBe(false);
  });

  it('lets the frames a compliant client sent during a stall through when they are read at once', () => {
    // 8 frames/s under a limit of 10/s with a burst of 5; the server reads nothing for 2 s.
    const bucket = new TokenBucket(10, 5, 0);
    for (let t = 0; t < 1000; t += 125) expect(bucket.takeAt(t)).toBe(true);
    bucket.refill(3000, 2000);
    const backlog = Array.from({ length: 16 }, () => bucket.take());
    expect(backlog.every(Boolean)).toBe(true);
  });

  it('without stall credit refuses the same backlog past the burst', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let t = 0; t < 1000; t += 125) bucket.takeAt(t);
    bucket.refill(3000);
    const accepted = Array.from({ length: 16 }, () => bucket.take()).filter(Boolean);
    expect(accepted).toHaveLength(5);
  });

  it('lets stall credit expire once the stall is as long past as it lasted', () => {
    const bucket = new TokenBucket(10, 1, 0);
    bucket.refill(1000, 1000);
    expect(bucket.available).toBeCloseTo(11);
    bucket.refill(2500);
    expect(bucket.available).toBeCloseTo(1);
  });

  it('lets a debit take it below zero, and refuses until it has refilled from there', () => {
    const bucket = new TokenBucket(10, 5, 0);
    bucket.debit(25);
    expect(bucket.available).toBeCloseTo(-20);
    expect(bucket.takeAt(2000)).toBe(false);
    expect(bucket.takeAt(2100)).toBe(true);
  });
});
