import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CONFIG_KEYS } from '../../src/config/app-config';
import { spawnedEntry } from './spawned-build';
import { clusterStreamDefaults } from './cluster-client';

const ROOT = join(__dirname, '..', '..');

export interface ServerProcess {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** The port from the "listening on" log line; rejects if the process exits before it. */
  port: Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `src/main.ts`, compiled (test/support/spawned-build.ts), as a separate process, as
 * `npm run start:prod` would, with the given settings; `entry` runs another entry file of
 * tsconfig.spawn.json instead (a test server composing test modules); `cwd` is where it runs
 * (where it reads `.env`), the repository by default.
 */
export function spawnServer(
  settings: Record<string, string>,
  entry = join('src', 'main.ts'),
  options: { cwd?: string } = {},
): ServerProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const key of CONFIG_KEYS) delete env[key];
  const defaults = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'log' };
  Object.assign(env, defaults, clusterStreamDefaults(settings), settings);
  const child = spawn(process.execPath, [spawnedEntry(entry)], {
    cwd: options.cwd ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${output}`)),
    );
  });
  // A test that expects a failed start never awaits the port.
  port.catch(() => undefined);
  return { child, output: () => output, port, exited };
}
