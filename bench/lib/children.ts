import { ChildProcess, fork, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Which cores the server and the load generator run on, when `taskset` can pin them. */
export interface Pinning {
  taskset?: string;
  serverCore?: number;
  loadCore?: number;
}

const TASKSET_PATHS = ['/usr/bin/taskset', '/bin/taskset'];
const KEPT_OUTPUT_LINES = 20;

/**
 * Pins to the first two CPUs this process may use (its affinity list, which a container's cpuset
 * narrows), or to nothing when `taskset` is missing or there is only one CPU.
 */
export function detectPinning(): Pinning {
  const taskset = TASKSET_PATHS.find((candidate) => existsSync(candidate));
  if (!taskset) return {};
  const query = spawnSync(taskset, ['-cp', String(process.pid)], { encoding: 'utf8' });
  const list = /:\s*([\d,-]+)\s*$/.exec(query.stdout ?? '')?.[1];
  const cpus = list ? expandCpuList(list) : [];
  if (cpus.length < 2) return {};
  return { taskset, serverCore: cpus[0], loadCore: cpus[1] };
}

function expandCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i);
  });
}

/** The last lines a child wrote, for the report when it fails. */
export class OutputTail {
  private readonly lines: string[] = [];

  constructor(child: ChildProcess) {
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim().length === 0) continue;
        this.lines.push(line);
        if (this.lines.length > KEPT_OUTPUT_LINES) this.lines.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  toString(): string {
    return this.lines.join('\n');
  }
}

export interface ForkOptions {
  core?: number;
  taskset?: string;
  nodeArgs: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Node flags that let a child run a .ts module when this process itself runs from TypeScript. */
export function typescriptNodeArgs(): string[] {
  return __filename.endsWith('.ts')
    ? ['-r', require.resolve('ts-node/register/transpile-only')]
    : [];
}

/** Forks `module` with an IPC channel, through `taskset -c CORE` when pinning. */
export function forkPinned(
  module: string,
  args: readonly string[],
  options: ForkOptions,
): ChildProcess {
  const nodeArgs = [...options.nodeArgs, ...typescriptNodeArgs()];
  const pinned = options.taskset !== undefined && options.core !== undefined;
  return fork(module, [...args], {
    cwd: options.cwd,
    env: options.env,
    // fork runs `execPath ...execArgv module ...args`: taskset then execs node on its core.
    execPath: pinned ? options.taskset : process.execPath,
    execArgv: pinned ? ['-c', String(options.core), process.execPath, ...nodeArgs] : nodeArgs,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

/**
 * The next message of `child` that `accept` narrows, or a rejection when the child's IPC channel
 * closes (it exited; messages it sent before are still delivered first) or `timeoutMs` passes.
 */
export function nextMessage<T>(
  child: ChildProcess,
  accept: (message: unknown) => message is T,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('disconnect', onDisconnect);
    };
    const onMessage = (message: unknown): void => {
      if (!accept(message)) return;
      done();
      resolve(message);
    };
    const onDisconnect = (): void => {
      done();
      reject(new Error(`${what}: the child exited first (${child.signalCode ?? child.exitCode})`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('disconnect', onDisconnect);
    if (!child.connected) onDisconnect();
  });
}

/** Waits for `child` to exit, killing it after `timeoutMs`. */
export async function ended(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
