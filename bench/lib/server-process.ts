import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { OutputTail, Pinning, ended, forkPinned, nextMessage } from './children';
import {
  CpuSample,
  MemorySample,
  ServerCommand,
  ServerEvent,
  ServerKind,
  isServerEvent,
} from './ipc';

const START_TIMEOUT_MS = 60_000;
const SAMPLE_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 5_000;

export interface ServerStartOptions {
  kind: ServerKind;
  productEntry: string;
  env: NodeJS.ProcessEnv;
  pinning: Pinning;
  cwd: string;
  /** Extra node flags (--cpu-prof ...). */
  nodeArgs: readonly string[];
}

/** A server under test in its own process (bench/serve.ts), sampled over IPC. */
export class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly output: OutputTail,
    readonly port: number,
  ) {}

  static async start(options: ServerStartOptions): Promise<ServerProcess> {
    const args = options.kind === 'product' ? ['product', options.productEntry] : ['reference'];
    const child = forkPinned(path.join(__dirname, '..', 'serve.ts'), args, {
      core: options.pinning.serverCore,
      taskset: options.pinning.taskset,
      nodeArgs: ['--expose-gc', ...options.nodeArgs],
      env: options.env,
      cwd: options.cwd,
    });
    const output = new OutputTail(child);
    try {
      const ready = await nextMessage(
        child,
        isServerEvent,
        START_TIMEOUT_MS,
        `${options.kind} start`,
      );
      if (ready.type !== 'ready')
        throw new Error(ready.type === 'failed' ? ready.message : 'not ready');
      return new ServerProcess(child, output, ready.port);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${String(error)}\n${output.toString()}`);
    }
  }

  async memory(): Promise<MemorySample> {
    const event = await this.request({ cmd: 'memory' }, 'memory');
    if (event.type !== 'memory') throw new Error('expected a memory sample');
    return event.memory;
  }

  async cpu(): Promise<CpuSample> {
    const event = await this.request({ cmd: 'cpu' }, 'cpu');
    if (event.type !== 'cpu') throw new Error('expected a cpu sample');
    return event.cpu;
  }

  /** Writes a heap snapshot of the server to `file` (takes seconds with many connections). */
  async heapSnapshot(file: string): Promise<void> {
    await this.request({ cmd: 'heap-snapshot', file }, 'heap-snapshot');
  }

  /** Asks the server to exit (which writes its CPU profile, if any), killing it if it does not. */
  async stop(): Promise<void> {
    if (this.child.connected) this.child.send({ cmd: 'stop' } satisfies ServerCommand);
    await ended(this.child, STOP_TIMEOUT_MS);
  }

  /** The server's last lines of output, for a failure report. */
  get recentOutput(): string {
    return this.output.toString();
  }

  private async request(command: ServerCommand, type: ServerEvent['type']): Promise<ServerEvent> {
    const answer = nextMessage(
      this.child,
      (m): m is ServerEvent => isServerEvent(m) && (m.type === type || m.type === 'failed'),
      SAMPLE_TIMEOUT_MS,
      `server ${command.cmd}`,
    );
    this.child.send(command);
    const event = await answer;
    if (event.type === 'failed') throw new Error(event.message);
    return event;
  }
}

/** Server CPU between two samples, as a percentage of one core. */
export function cpuPercentBetween(from: CpuSample, to: CpuSample): number {
  const usedMs = (to.userUs + to.systemUs - from.userUs - from.systemUs) / 1000;
  const wallMs = to.atMs - from.atMs;
  return wallMs > 0 ? (usedMs / wallMs) * 100 : NaN;
}
