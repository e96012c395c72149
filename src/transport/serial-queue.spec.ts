import { FlowControl, SerialQueue } from './serial-queue';

/** Records the pause/resume calls a queue makes. */
class RecordingFlow implements FlowControl {
  readonly calls: string[] = [];
  pause(): void {
    this.calls.push('pause');
  }
  resume(): void {
    this.calls.push('resume');
  }
}

/** A promise the test settles by hand: an op that is "slow" until released. */
function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Resolves once every op pushed before it has run. */
function drained(queue: SerialQueue): Promise<void> {
  return new Promise((resolve) => queue.push(resolve));
}

describe('SerialQueue', () => {
  it('runs ops one at a time, in the order they were pushed', async () => {
    const queue = new SerialQueue(64, new RecordingFlow(), fail);
    const log: string[] = [];
    let running = 0;
    for (let i = 0; i < 5; i++) {
      queue.push(async () => {
        running += 1;
        expect(running).toBe(1);
        log.push(`start ${i}`);
        await Promise.resolve();
        log.push(`end ${i}`);
        running -= 1;
      });
    }
    await drained(queue);
    expect(log).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`start ${i}`, `end ${i}`]));
  });

  it('runs the next op after one that throws or rejects, and reports the failures', async () => {
    const errors: unknown[] = [];
    const queue = new SerialQueue(64, new RecordingFlow(), (error) => errors.push(error));
    const ran: number[] = [];
    queue.push(() => {
      throw new Error('sync');
    });
    queue.push(() => ran.push(1));
    queue.push(() => Promise.reject(new Error('async')));
    queue.push(() => ran.push(2));
    await drained(queue);
    expect(ran).toEqual([1, 2]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['sync', 'async']);
  });

  it('pauses its source past the limit and resumes it once half is left', async () => {
    const flow = new RecordingFlow();
    const queue = new SerialQueue(4, flow, fail);
    const slow = gate();
    const sizesAtResume: number[] = [];
    const resume = flow.resume.bind(flow);
    jest.spyOn(flow, 'resume').mockImplementation(() => {
      sizesAtResume.push(queue.size);
      resume();
    });

    queue.push(() => slow.promise);
    for (let i = 0; i < 3; i++) queue.push(() => undefined);
    expect({ size: queue.size, calls: flow.calls }).toEqual({ size: 4, calls: [] });
    queue.push(() => undefined);
    expect({ size: queue.size, paused: queue.isPaused, calls: flow.calls }).toEqual({
      size: 5,
      paused: true,
      calls: ['pause'],
    });
    // Already paused: more ops (the rest of a network read) queue without another pause.
    queue.push(() => undefined);
    expect(flow.calls).toEqual(['pause']);

    slow.open();
    await drained(queue);
    expect(flow.calls).toEqual(['pause', 'resume']);
    expect(sizesAtResume).toEqual([2]);
    expect(queue.isPaused).toBe(false);
    expect(queue.peak).toBe(7); // six ops and the drain marker
  });

  it('holds no op once it has run: its memory is the ops waiting, nothing more', async () => {
    const queue = new SerialQueue(8, new RecordingFlow(), fail);
    const slow = gate();
    queue.push(() => slow.promise);
    for (let i = 0; i < 100; i++) queue.push(() => undefined);
    expect(queue.size).toBe(101);
    slow.open();
    await drained(queue);
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.size).toBe(0);
  });

  it('pauses and resumes again for every new backlog', async () => {
    const flow = new RecordingFlow();
    const queue = new SerialQueue(2, flow, fail);
    for (let round = 0; round < 3; round++) {
      const slow = gate();
      queue.push(() => slow.promise);
      queue.push(() => undefined);
      queue.push(() => undefined);
      slow.open();
      await drained(queue);
    }
    expect(flow.calls).toEqual(['pause', 'resume', 'pause', 'resume', 'pause', 'resume']);
  });
});

function fail(error: unknown): never {
  throw error;
}
