import { KeyedSequencer } from './keyed-sequencer';

/** A task that records its start and finishes when told. */
function deferred(
  log: string[],
  name: string,
): { task: () => Promise<string>; end: () => void; fail: () => void } {
  let end!: () => void;
  let fail!: () => void;
  const done = new Promise<string>((resolve, reject) => {
    end = () => resolve(name);
    fail = () => reject(new Error(name));
  });
  return {
    task: () => {
      log.push(`start ${name}`);
      return done;
    },
    end,
    fail,
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedSequencer', () => {
  it('runs the tasks of one key one after another, in call order', async () => {
    const sequencer = new KeyedSequencer();
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((name) => deferred(log, name));
    const results = [a, b, c].map((d) => sequencer.run('room', d.task));

    await turn();
    expect(log).toEqual(['start a']);
    a.end();
    await turn();
    expect(log).toEqual(['start a', 'start b']);
    b.end();
    c.end();
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'start b', 'start c']);
  });

  it('runs tasks of other keys, and tasks without a key, in parallel', async () => {
    const sequencer = new KeyedSequencer();
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((name) => deferred(log, name));
    sequencer.run('one', a.task).catch(() => undefined);
    sequencer.run('two', b.task).catch(() => undefined);
    sequencer.run(undefined, c.task).catch(() => undefined);

    await turn();
    expect(log.sort()).toEqual(['start a', 'start b', 'start c']);
  });

  it('goes on with the next task after one fails, and hands the failure to its caller', async () => {
    const sequencer = new KeyedSequencer();
    const log: string[] = [];
    const [a, b] = ['a', 'b'].map((name) => deferred(log, name));
    const first = sequencer.run('room', a.task);
    const second = sequencer.run('room', b.task);

    a.fail();
    await expect(first).rejects.toThrow('a');
    b.end();
    await expect(second).resolves.toBe('b');
  });

  it('starts the next task of a key once the running one has published, before it ends', async () => {
    const sequencer = new KeyedSequencer();
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((name) => deferred(log, name));
    // a publishes at once (its publication's place is fixed), then waits for its answer.
    const publishing = (release: () => void): Promise<string> => {
      const result = a.task();
      release();
      return result;
    };
    const results = [
      sequencer.run('room', publishing),
      sequencer.run('room', b.task),
      sequencer.run('room', c.task),
    ];
    await turn();
    // b started while a is still running; c waits for b, which has not published.
    expect(log).toEqual(['start a', 'start b']);
    b.end();
    await turn();
    expect(log).toEqual(['start a', 'start b', 'start c']);
    a.end();
    c.end();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
  });

  it('forgets a key once its chain is empty', async () => {
    const sequencer = new KeyedSequencer();
    const task = sequencer.run('room', () => Promise.resolve(1));
    expect(sequencer.size).toBe(1);
    await task;
    await turn();
    expect(sequencer.size).toBe(0);
  });
});
