import { spawn } from 'node:child_process';
import { Socket, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runSmoke } from '../scripts/smoke-checks';
import { eventually } from './support/eventually';
import { spawnedEntry } from './support/spawned-build';
import { RunningApp, startApp } from './support/test-app';

const ROOT = join(__dirname, '..');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/smoke.ts` (compiled) as `npm run smoke` would, in a child process. */
function runSmokeCli(args: string[], timeoutMs = 25_000): Promise<CliResult> {
  const child = spawn(process.execPath, [spawnedEntry('scripts/smoke.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** A TCP server on a free port that accepts connections and never answers. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port nothing listens on (as far as anyone can know without racing the OS). */
async function freePort(): Promise<number> {
  const { port, close } = await silentServer();
  await close();
  return port;
}

interface ChatCounts {
  connections: number;
  rooms: number;
}

/** The app's chat counts once both are 0; closing handshakes end on the server a moment after
 * they end on the client. */
async function countsOnceIdle(httpUrl: string): Promise<ChatCounts> {
  return eventually(
    'no connection and no room left',
    async () => {
      const health = (await (await fetch(httpUrl)).json()) as { info: { chat: ChatCounts } };
      const { connections, rooms } = health.info.chat;
      return { connections, rooms };
    },
    { done: ({ connections, rooms }) => connections === 0 && rooms === 0 },
  );
}

describe('smoke test (npm run smoke)', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp();
  });

  afterAll(async () => {
    await server.close();
  });

  it('passes every check against the real app', async () => {
    const lines: string[] = [];
    const result = await runSmoke(server.wsUrl, (line) => lines.push(line));
    expect(lines.filter((line) => !line.startsWith('✓'))).toEqual([
      expect.stringMatching(/^Smoke test of ws:\/\/127\.0\.0\.1:\d+ \(run [0-9a-f]+\)$/),
      expect.stringMatching(/^\d+ passed, 0 failed, 0 skipped in [\d.]+ s$/),
    ]);
    expect(result).toEqual({ passed: lines.length - 2, failed: 0, skipped: 0 });
    expect(result.passed).toBeGreaterThanOrEqual(18);
  });

  it('can run again and again against the same server: every run uses its own ids', async () => {
    const runs = await Promise.all([
      runSmoke(server.wsUrl, () => undefined),
      runSmoke(server.wsUrl, () => undefined),
    ]);
    expect(runs.map((run) => run.failed + run.skipped)).toEqual([0, 0]);
  });

  it('leaves no connection or room behind', async () => {
    await runSmoke(server.wsUrl, () => undefined);
    expect(await countsOnceIdle(server.httpUrl)).toEqual({ connections: 0, rooms: 0 });
  });

  it('the CLI exits 0 against the running app', async () => {
    const { code, stdout } = await runSmokeCli([`ws://127.0.0.1:${server.port}`]);
    expect(stdout).toMatch(/^\d+ passed, 0 failed, 0 skipped/m);
    expect(stdout).not.toContain('✗');
    expect(code).toBe(0);
  });

  it('the CLI exits non-zero when nothing listens at the URL', async () => {
    const { code, stdout } = await runSmokeCli([`ws://127.0.0.1:${await freePort()}`]);
    expect(stdout).toContain('✗ health: GET / answers 200');
    expect(stdout).toMatch(/^0 passed, \d+ failed/m);
    expect(code).toBe(1);
  });

  it('the CLI prints its usage and exits 2 on bad arguments', async () => {
    const results = await Promise.all([
      runSmokeCli([]),
      runSmokeCli(['http://127.0.0.1:8080']),
      runSmokeCli(['ws://127.0.0.1:8080', '--timeout', 'soon']),
    ]);
    for (const { code, stderr } of results) {
      expect(stderr).toContain('Usage: npm run smoke --');
      expect(code).toBe(2);
    }
  });

  it('fails instead of hanging against a server that never answers', async () => {
    const silent = await silentServer();
    try {
      const lines: string[] = [];
      const started = Date.now();
      const result = await runSmoke(`ws://127.0.0.1:${silent.port}`, (line) => lines.push(line), {
        stepTimeoutMs: 200,
        overallTimeoutMs: 3000,
      });
      expect(result.passed).toBe(0);
      expect(result.failed).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(lines.at(-1)).toMatch(/^0 passed, \d+ failed/);
    } finally {
      await silent.close();
    }
  });

  it('stops at the overall timeout', async () => {
    const silent = await silentServer();
    try {
      const lines: string[] = [];
      const result = await runSmoke(`ws://127.0.0.1:${silent.port}`, (line) => lines.push(line), {
        stepTimeoutMs: 1000,
        overallTimeoutMs: 500,
      });
      expect(lines).toContain('✗ the smoke test finishes within 500 ms');
      expect(result.failed).toBeGreaterThan(0);
    } finally {
      await silent.close();
    }
  });
});
