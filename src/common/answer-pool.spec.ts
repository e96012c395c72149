import { AnswerLease, AnswerPool } from './answer-pool';

/** Reserves room for an answer and keeps `bytes` of it, as a history read does. */
function answer(lease: AnswerLease, bytes: number): string {
  const reserved = lease.reserve();
  return typeof reserved === 'number' ? lease.settle(reserved, bytes) : reserved;
}

describe('AnswerPool', () => {
  it('lets one request hold its budget, the first answer whatever its size', () => {
    const pool = new AnswerPool(10_000, 100);
    const lease = pool.lease();
    expect(answer(lease, 60)).toBe('taken');
    expect(lease.remaining).toBe(40);
    expect(answer(lease, 41)).toBe('spent');
    expect(pool.held).toBe(60);
    expect(answer(lease, 40)).toBe('taken');
    expect(answer(lease, 1)).toBe('spent');
    expect(pool.held).toBe(100);
    expect(answer(pool.lease(), 500)).toBe('taken');
    expect(pool.held).toBe(600);
  });

  it('sets the whole of what is left aside before the read, and gives back what the answer did not use', () => {
    const pool = new AnswerPool(10_000, 100);
    const lease = pool.lease();
    expect(lease.reserve()).toBe(100);
    expect(pool.held).toBe(100);
    expect(lease.settle(100, 30)).toBe('taken');
    expect(pool.held).toBe(30);
    expect(lease.reserve()).toBe(70);
    expect(lease.settle(70, 0)).toBe('taken');
    expect(pool.held).toBe(30);
  });

  it('refuses a read the pool has no room for, setting nothing aside, and finds room once a lease is released', () => {
    const pool = new AnswerPool(250, 100);
    const leases = [pool.lease(), pool.lease(), pool.lease()];
    expect(leases[0].reserve()).toBe(100);
    expect(leases[1].reserve()).toBe(100);
    expect(leases[2].reserve()).toBe('busy');
    expect(pool.held).toBe(200);
    leases[0].release();
    expect(pool.held).toBe(100);
    expect(leases[2].reserve()).toBe(100);
  });

  it('refuses a first answer over the budget when the pool cannot hold the excess', () => {
    const pool = new AnswerPool(150, 100);
    const lease = pool.lease();
    expect(lease.settle(lease.reserve() as number, 200)).toBe('busy');
    expect(pool.held).toBe(0);
  });

  it('gives every byte back once, a reservation included, and a released lease takes nothing more', () => {
    const pool = new AnswerPool(1_000, 100);
    const lease = pool.lease();
    answer(lease, 30);
    const reserved = lease.reserve() as number;
    lease.release();
    lease.release();
    expect(pool.held).toBe(0);
    expect(lease.settle(reserved, 10)).toBe('spent');
    expect(lease.reserve()).toBe('spent');
    expect(pool.held).toBe(0);
  });
});
