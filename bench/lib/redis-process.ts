import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { eventually } from '../../test/support/eventually';
import { ended } from './children';
import type { Pinning } from './children';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** redis-server from PATH, or undefined when it is not installed. */
export function findRedisServer(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const file = found.status === 0 ? found.stdout.trim() : '';
  return file.length > 0 ? file : undefined;
}

/**
 * What kills every redis-server still running, called if the orchestrator exits without stopping
 * them (an uncaught error, or a SIGINT/SIGTERM to the orchestrator alone, which its node children
 * survive only until their IPC channel closes, but a redis-server would not notice).
 */
const running = new Set<() => void>();
function killRunning(): void {
  for (const kill of running) kill();
}
process.on('exit', killRunning);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killRunning();
    // The listener is gone: the signal again ends this process the default way.
    process.kill(process.pid, signal);
  });
}

/** Runs `kill` (synchronous) if this process exits before the returned function is called. */
export function killAtExit(kill: () => void): () => void {
  running.add(kill);
  return () => running.delete(kill);
}

/**
 * A throwaway redis-server for one run of a cluster scenario: loopback, a free port, no
 * persistence, pinned like the servers under test (it pays on their core).
 */
export class RedisProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(binary: string, pinning: Pinning): Promise<RedisProcess> {
    const port = await freePort();
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const pinned = pinning.taskset !== undefined && pinning.serverCore !== undefined;
    const child = pinned
      ? spawn(pinning.taskset ?? '', ['-c', String(pinning.serverCore), binary, ...args], {
          stdio: 'ignore',
        })
      : spawn(binary, args, { stdio: 'ignore' });
    const forget = killAtExit(() => child.kill('SIGKILL'));
    child.once('exit', forget);
    const redis = new RedisProcess(child, port);
    try {
      await waitForPong(port, START_TIMEOUT_MS);
    } catch (error) {
      await redis.stop();
      throw error;
    }
    return redis;
  }

  /** CPU time redis-server has used so far, in milliseconds; undefined off Linux. */
  cpuMs(): number | undefined {
    if (this.child.pid === undefined) return undefined;
    try {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond();
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await ended(this.child, STOP_TIMEOUT_MS);
  }
}

let ticksPerSecond: number | undefined;
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const answer = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
    ticksPerSecond = Number.isFinite(answer) && answer > 0 ? answer : 100;
  }
  return ticksPerSecond;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => {
      socket.write('PING\r\n');
      socket.once('data', (data: Buffer) => done(data.toString().startsWith('+PONG')));
    });
  });
}

async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  await eventually(`redis-server to answer on port ${port}`, () => pong(port), {
    timeoutMs,
    intervalMs: 50,
  });
}
