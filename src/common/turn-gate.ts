/**
 * Lets at most `perTurn` callers through per turn of the event loop, in the order they came.
 * Work that completes without I/O (in-memory room operations) otherwise runs as one task however
 * many connections asked for it at once, and every other socket and timer waits until all of it
 * is done; behind the gate it is spread over turns, with I/O between them.
 */
export class TurnGate {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly perTurn: number) {}

  /** Resolves on a later turn (a `setImmediate`), once the callers before it went through. */
  pass(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.release());
    });
  }

  /** Callers waiting to go through. */
  get size(): number {
    return this.waiting.length;
  }

  private release(): void {
    for (const resolve of this.waiting.splice(0, this.perTurn)) resolve();
    if (this.waiting.length === 0) {
      this.scheduled = false;
      return;
    }
    setImmediate(() => this.release());
  }
}
