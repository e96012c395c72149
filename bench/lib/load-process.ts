import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { OutputTail, Pinning, ended, forkPinned, nextMessage } from './children';
import { LoadCommand, LoadEvent, LoadResult, MarkName, isLoadEvent } from './ipc';
import { LoadSpec, loadBudgetMs } from './load-specs';

const EXIT_TIMEOUT_MS = 10_000;

/** The load generator (bench/load-generator.ts) in its own process, for one run. */
export class LoadProcess {
  private readonly output: OutputTail;

  private constructor(private readonly child: ChildProcess) {
    this.output = new OutputTail(child);
  }

  static fork(pinning: Pinning, cwd: string): LoadProcess {
    const child = forkPinned(path.join(__dirname, '..', 'load-generator.ts'), [], {
      core: pinning.loadCore,
      taskset: pinning.taskset,
      nodeArgs: [],
      env: process.env,
      cwd,
    });
    return new LoadProcess(child);
  }

  /**
   * Runs `spec` against `host` on `ports` (the clients split between them; one port for one
   * server). At each mark the generator waits while `onMark` samples the
   * server. Rejects when the generator fails, exits or overruns its budget.
   */
  async run(
    spec: LoadSpec,
    host: string,
    ports: readonly number[],
    onMark: (name: MarkName) => Promise<void>,
  ): Promise<LoadResult> {
    const deadline = Date.now() + loadBudgetMs(spec) + EXIT_TIMEOUT_MS;
    this.send({ cmd: 'run', host, port: ports[0], ports: [...ports], spec });
    for (;;) {
      const event: LoadEvent = await nextMessage(
        this.child,
        isLoadEvent,
        Math.max(1, deadline - Date.now()),
        'load generator',
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${this.output.toString()}`);
      });
      if (event.type === 'result') return event.result;
      if (event.type === 'failed') throw new Error(`load generator: ${event.message}`);
      await onMark(event.name);
      this.send({ cmd: 'ack' });
    }
  }

  async stop(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    await ended(this.child, EXIT_TIMEOUT_MS);
  }

  private send(command: LoadCommand): void {
    this.child.send(command);
  }
}
