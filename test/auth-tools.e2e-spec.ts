import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runSmoke } from '../scripts/smoke-checks';
import { isChat } from './support/expected-frames';
import { signToken, TEST_SECRET } from './support/jwt-fixtures';
import { spawnedEntry } from './support/spawned-build';
import { RunningApp, startApp } from './support/test-app';
import { TestClient } from './support/test-client';

/*
 * The tools under AUTH_MODE=jwt: `npm run smoke` and `npm run client` take `--token` (or TOKEN
 * from the environment). `npm run token` has its own spec (mint-token.e2e-spec.ts).
 */

const ROOT = join(__dirname, '..');

/**
 * Runs a script (compiled) as `npm run` would, with `input` on stdin; resolves with its exit and
 * output.
 */
function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  input = '',
): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [spawnedEntry(script), ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.resume();
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout });
    }),
  );
}

describe('tools with AUTH_MODE=jwt', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ AUTH_MODE: 'jwt', JWT_SECRET: TEST_SECRET });
  });

  afterAll(() => server.close());

  it('smoke checks authentication as the token’s user and passes', async () => {
    const lines: string[] = [];
    const token = await signToken({ sub: 'smoker' }, TEST_SECRET);
    const result = await runSmoke(server.wsUrl, (line) => lines.push(line), { token });
    expect({ ...result, lines }).toMatchObject({ failed: 0, skipped: 0 });
    expect(result.passed).toBeGreaterThanOrEqual(5);
    expect(lines.join('\n')).not.toContain(token);
  });

  it('npm run smoke takes TOKEN from the environment', async () => {
    const token = await signToken({ sub: 'smoker2' }, TEST_SECRET);
    const { code, stdout } = await runScript('scripts/smoke.ts', [server.wsUrl], { TOKEN: token });
    expect(stdout).toContain('auth: the first frame');
    expect(code).toBe(0);
  });

  it('npm run client -- --token sends as the token’s user', async () => {
    const listener = await TestClient.connect(server.wsUrl, {
      headers: {
        authorization: `Bearer ${await signToken({ sub: 'ear', rooms: ['cli-*'] }, TEST_SECRET)}`,
      },
    });
    await listener.request({ type: 'join', roomId: 'cli-room' }, 'joined');
    const token = await signToken({ sub: 'typist', rooms: ['cli-*'] }, TEST_SECRET);
    const { stdout } = await runScript(
      'scripts/chat-client.ts',
      [server.wsUrl, '--token', token, '--room', 'cli-room'],
      {},
      'hello from the client\n',
    );
    const frame = await listener.next(isChat('hello from the client'));
    expect(frame.userId).toBe('typist');
    expect(stdout).not.toContain(token);
    await listener.close();
  });
});
