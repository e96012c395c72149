/**
 * Holds whoever `pass`es while closed: a handler that is slow for as long as a test wants. Each
 * test module provides its own injectable subclass, so their gates are separate instances.
 */
export class Gate {
  private opened: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  /** Callers that reached the gate (waiting at it or through it). */
  reached = 0;

  close(): void {
    this.opened = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release();
  }

  pass(): Promise<void> {
    this.reached += 1;
    return this.opened;
  }
}
