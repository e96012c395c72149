import type { MarkName } from '../lib/ipc';

const KEPT_SAMPLES = 5;

/** Counts what went wrong in a run and keeps the first few descriptions. */
export class ErrorLog {
  count = 0;
  readonly samples: string[] = [];

  add(description: string): void {
    this.count += 1;
    if (this.samples.length < KEPT_SAMPLES) this.samples.push(description);
  }
}

/** What a scenario gets from the generator process: the target and the orchestrator's marks. */
export interface LoadContext {
  host: string;
  port: number;
  /**
   * Every port to spread clients over (a cluster's instances; just `port` for one server). Room
   * members go round-robin over them, so each room has members on every instance.
   */
  ports: readonly number[];
  errors: ErrorLog;
  /** Tells the orchestrator to sample the server now; resolves when it has. */
  mark(name: MarkName): Promise<void>;
}
