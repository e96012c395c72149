import { IdempotencyKeys } from './idempotency-keys';

describe('IdempotencyKeys', () => {
  let now: number;
  const clock = (): number => now;
  const at = (offset: number) => ({ offset, epoch: 'e' });

  beforeEach(() => {
    now = 0;
  });

  it('remembers a key per room for the window, and forgets it after', () => {
    const keys = new IdempotencyKeys({ windowMs: 1_000, maxPerRoom: 10, maxTotal: 10 }, clock);
    keys.remember('red', 'k', at(1));
    expect(keys.get('red', 'k')).toEqual(at(1));
    expect(keys.get('blue', 'k')).toBeUndefined();
    now = 999;
    expect(keys.get('red', 'k')).toEqual(at(1));
    now = 1_000;
    expect(keys.get('red', 'k')).toBeUndefined();
    expect(keys.size).toBe(0);
  });

  it('replaces a key remembered again, also when it is its room’s only key', () => {
    const keys = new IdempotencyKeys({ windowMs: 1_000, maxPerRoom: 10, maxTotal: 10 }, clock);
    keys.remember('red', 'k', at(1));
    keys.remember('red', 'k', at(2));
    expect(keys.get('red', 'k')).toEqual(at(2));
    expect(keys.sizeOf('red')).toBe(1);
    expect(keys.size).toBe(1);
  });

  it('keeps at most maxPerRoom keys in a room, dropping that room’s oldest first', () => {
    const keys = new IdempotencyKeys({ windowMs: 1_000, maxPerRoom: 3, maxTotal: 100 }, clock);
    keys.remember('other', 'o', at(1));
    for (let i = 1; i <= 5; i++) keys.remember('red', `k${i}`, at(i));
    expect(keys.sizeOf('red')).toBe(3);
    expect(['k1', 'k2', 'k3', 'k4', 'k5'].map((k) => keys.get('red', k)?.offset)).toEqual([
      undefined,
      undefined,
      3,
      4,
      5,
    ]);
    // Another room's keys are not dropped for this one.
    expect(keys.get('other', 'o')).toEqual(at(1));
  });

  it('keeps at most maxTotal keys over all rooms, dropping the oldest of any room first', () => {
    const keys = new IdempotencyKeys({ windowMs: 1_000, maxPerRoom: 100, maxTotal: 4 }, clock);
    for (let i = 1; i <= 6; i++) keys.remember(`room-${i}`, 'k', at(i));
    expect(keys.size).toBe(4);
    expect([1, 2, 3, 4, 5, 6].map((i) => keys.get(`room-${i}`, 'k')?.offset)).toEqual([
      undefined,
      undefined,
      3,
      4,
      5,
      6,
    ]);
  });

  it('frees a room’s bookkeeping with its last key', () => {
    const keys = new IdempotencyKeys({ windowMs: 10, maxPerRoom: 100, maxTotal: 100 }, clock);
    for (let i = 0; i < 1_000; i++) keys.remember(`room-${i}`, 'k', at(1));
    now = 10;
    keys.expire();
    expect(keys.size).toBe(0);
    expect((keys as unknown as { rooms: Map<string, unknown> }).rooms.size).toBe(0);
  });

  it('remembers nothing with a window of 0', () => {
    const keys = new IdempotencyKeys({ windowMs: 0, maxPerRoom: 100, maxTotal: 100 }, clock);
    keys.remember('red', 'k', at(1));
    expect(keys.get('red', 'k')).toBeUndefined();
    expect(keys.size).toBe(0);
  });
});
