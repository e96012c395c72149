import { Limiter, eachLimited } from './each-limited';

/** A task that holds until released, counting how many run at once. */
function gauge() {
  let running = 0;
  let most = 0;
  const releases: (() => void)[] = [];
  const task = async (): Promise<void> => {
    running += 1;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => releases.push(resolve));
    running -= 1;
  };
  const releaseAll = async (): Promise<void> => {
    while (releases.length > 0 || running > 0) {
      releases.splice(0).forEach((release) => release());
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { task, releaseAll, most: () => most };
}

describe('eachLimited', () => {
  it('runs every item, never more than the concurrency at once', async () => {
    const { task, releaseAll, most } = gauge();
    const seen: number[] = [];
    const done = eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      seen.push(item);
      await task();
    });
    await releaseAll();
    await done;
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most()).toBe(3);
  });
});

describe('Limiter', () => {
  it('runs the tasks handed to it at most the concurrency at a time, the others in turn', async () => {
    const { task, releaseAll, most } = gauge();
    const limiter = new Limiter(2);
    const all = Promise.all(Array.from({ length: 5 }, () => limiter.run(task)));
    await releaseAll();
    await all;
    expect(most()).toBe(2);
  });
});
