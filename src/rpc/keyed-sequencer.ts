/**
 * Keyed serial execution: tasks given the same key run one after another, in the order `run` was
 * called, each once the one before it settled (fulfilled or rejected) or called the `release` it is
 * given (its publication has its place in the room's stream: `PublishOptions.onOrdered`), so a
 * room's publications keep the order of its tasks while their round trips overlap; tasks of other keys,
 * and tasks without a key, run in parallel. A key's chain is forgotten once it is empty, so the
 * sequencer holds only keys with a task pending. It bounds nothing: callers bound how many tasks
 * they hand it (the bridge holds a RPC_CONCURRENCY slot for each entry, waiting or running).
 */
export class KeyedSequencer {
  /** Per key, the settled end of its chain (never rejects). */
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string | undefined, task: (release: () => void) => Promise<T>): Promise<T> {
    if (key === undefined) return Promise.resolve().then(() => task(settled));
    const before = this.tails.get(key) ?? Promise.resolve();
    let release = settled;
    const published = new Promise<void>((resolve) => (release = resolve));
    const result = before.then(() => task(release));
    const tail = Promise.race([published, result.then(settled, settled)]);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}

function settled(): void {
  // The next task of the chain runs whatever the previous one's outcome.
}
