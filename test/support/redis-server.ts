import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';
import { eventually } from './eventually';

/**
 * A real redis-server for the tests, started from PATH on a free loopback port and stopped by
 * them. Without one the Redis suites are skipped loudly, and under CI (or REQUIRE_REDIS=1) a
 * missing redis-server fails the run instead.
 */
export const redisServerPath: string | undefined = (() => {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
})();

export const redisRequired = process.env.CI === 'true' || process.env.REQUIRE_REDIS === '1';

/**
 * `describe` for suites that need redis-server: skipped with a warning when it is missing, and a
 * failing suite when Redis is required.
 */
export function describeWithRedis(name: string, body: () => void): void {
  describeNeeding(
    redisServerPath !== undefined,
    { what: 'redis-server', packages: 'redis-server', suite: 'Redis suite' },
    name,
    body,
  );
}

/** What a suite needs from PATH, for the messages of `describeNeeding`. */
export interface Needs {
  /** The programs, as named in messages ("redis-server"). */
  what: string;
  /** The Debian packages that bring them. */
  packages: string;
  /** The kind of suite, as the warning names it ("Redis suite"). */
  suite: string;
}

/**
 * `describe` when `found`; otherwise a failing suite when Redis is required (CI), or a skipped
 * one with a warning.
 */
export function describeNeeding(
  found: boolean,
  needs: Needs,
  name: string,
  body: () => void,
): void {
  if (found) {
    describe(name, body);
    return;
  }
  if (redisRequired) {
    describe(name, () => {
      it(`needs ${needs.what} on PATH (CI installs the Debian package ${needs.packages})`, () => {
        throw new Error(`${needs.what} not found on PATH, and this run requires Redis`);
      });
    });
    return;
  }
  console.warn(
    `\n*** SKIPPED ${needs.suite} "${name}": ${needs.what} is not on PATH. ` +
      `Install it (apt-get install ${needs.packages}) to run it; CI requires it. ***\n`,
  );
  describe.skip(name, body);
}

export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a throwaway redis-server (no persistence) on a free port. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  /** (Re)starts the server on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (!redisServerPath) throw new Error('redis-server not found on PATH');
    const child = spawn(
      redisServerPath,
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        // DEBUG SLEEP makes Redis stall for the fault tests (loopback clients only).
        ...['--enable-debug-command', 'local'],
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    await waitForPort(this.port);
  }

  /** Stalls the server (SIGSTOP): connections stay open and nothing is answered until `resume`. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  /** Resumes a server stalled by `pause` (SIGCONT). */
  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** Stops the server the way a crash or an outage looks to clients. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

/** A port free on 127.0.0.1 at the time of the call. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves once a redis-server on `port` answers PING. */
async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  await eventually(`redis-server to answer on port ${port}`, () => answersPing(port), {
    timeoutMs,
    intervalMs: 50,
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1', () => {
      socket.write('PING\r\n');
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
  });
}
