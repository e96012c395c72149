import { AnswerPool } from './answer-pool';

describe('AnswerPool', () => {
  it('lets one request hold its budget, the first answer whatever its size', () => {
    const pool = new AnswerPool(10_000, 100);
    const lease = pool.lease();
    expect(lease.take(60)).toBe('taken');
    expect(lease.remaining).toBe(40);
    expect(lease.take(41)).toBe('spent');
    expect(lease.take(40)).toBe('taken');
    expect(lease.take(1)).toBe('spent');
    expect(pool.held).toBe(100);
    const big = pool.lease();
    expect(big.take(500)).toBe('taken');
    expect(pool.held).toBe(600);
  });

  it('refuses an answer the pool has no room for, taking nothing, and finds room once a lease is released', () => {
    const pool = new AnswerPool(250, 100);
    const leases = [pool.lease(), pool.lease(), pool.lease()];
    expect(leases[0].take(100)).toBe('taken');
    expect(leases[1].take(100)).toBe('taken');
    expect(leases[2].take(100)).toBe('busy');
    expect(leases[2].take(50)).toBe('taken');
    expect(pool.held).toBe(250);
    leases[0].release();
    expect(pool.held).toBe(150);
    expect(pool.lease().take(100)).toBe('taken');
  });

  it('gives every byte back once, and a released lease takes nothing more', () => {
    const pool = new AnswerPool(1_000, 100);
    const lease = pool.lease();
    lease.take(30);
    lease.take(20);
    lease.release();
    lease.release();
    expect(pool.held).toBe(0);
    expect(lease.remaining).toBe(0);
    expect(lease.take(10)).toBe('spent');
    expect(pool.held).toBe(0);
  });

  it('always lets an empty answer through', () => {
    const pool = new AnswerPool(10, 10);
    const lease = pool.lease();
    expect(lease.take(10)).toBe('taken');
    expect(lease.take(0)).toBe('taken');
    expect(pool.lease().take(0)).toBe('taken');
  });
});
