/** What a queue throttles when it fills: a `ws` WebSocket (`pause()` stops reading its socket). */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export type QueuedOp = () => unknown;

/**
 * Runs ops one after another in the order they were pushed, each after the previous one settled,
 * and throttles the source that feeds it: when more than `limit` ops are waiting or running it
 * pauses `flow`, and resumes it once no more than half of `limit` are left. A failed op is handed
 * to `onError` and does not stop the next.
 *
 * The limit is where reading stops, not a hard ceiling: `ws` still emits the messages of the
 * chunk it was parsing when paused ("some events can still be emitted after this is called, until
 * all buffered data is consumed"), so the queue can briefly hold one network read more than
 * `limit`. Nothing further is read until it drains, which bounds its memory.
 */
export class SerialQueue {
  private readonly ops: QueuedOp[] = [];
  private running = false;
  private paused = false;
  private highWater = 0;

  constructor(
    private readonly limit: number,
    private readonly flow: FlowControl,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Ops waiting or running. */
  get size(): number {
    return this.ops.length;
  }

  /** The most ops ever held at once. */
  get peak(): number {
    return this.highWater;
  }

  /** True while the flow is paused because the queue is full. */
  get isPaused(): boolean {
    return this.paused;
  }

  push(op: QueuedOp): void {
    this.ops.push(op);
    if (this.ops.length > this.highWater) this.highWater = this.ops.length;
    if (!this.paused && this.ops.length > this.limit) {
      this.paused = true;
      this.flow.pause();
    }
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.ops.length > 0) {
      try {
        await this.ops[0]();
      } catch (error) {
        this.onError(error);
      }
      this.ops.shift();
      if (this.paused && this.ops.length <= this.limit / 2) {
        this.paused = false;
        this.flow.resume();
      }
    }
    this.running = false;
  }
}
