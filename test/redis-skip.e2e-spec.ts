import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

interface JestRun {
  code: number | null;
  stderr: string;
}

/**
 * Runs Jest on `files` as `npm test` would, with only `sh` on PATH (so no redis-server), outside
 * CI unless `extra` says otherwise.
 */
function jestWithoutRedis(
  files: string[],
  bin: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<JestRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, NO_COLOR: '1' };
  for (const key of ['CI', 'REQUIRE_REDIS', 'REQUIRE_PYTHON_REDIS', 'JEST_WORKER_ID'])
    delete env[key];
  Object.assign(env, extra);
  const child = spawn(
    process.execPath,
    [require.resolve('jest/bin/jest'), '--runInBand', ...files],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('npm test without redis-server on PATH', () => {
  let bin: string;

  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), 'pixide-no-redis-'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
  });

  afterAll(() => {
    rmSync(bin, { recursive: true, force: true });
  });

  it('passes, and names the skipped Redis suites next to the summary', async () => {
    const run = await jestWithoutRedis(['test/redis-contract.e2e-spec.ts'], bin);

    expect(run.code).toBe(0);
    // The closing lines of the run: the totals, and the warning just above them.
    const summary = run.stderr.trimEnd().split('\n').slice(-10).join('\n');
    expect(summary).toMatch(/Tests:\s+\d+ skipped/);
    expect(summary).toContain(
      'SKIPPED Redis suites (redis-server is not on PATH): test/redis-contract.e2e-spec.ts',
    );
  }, 60_000);

  it('says so when the Python of the Django-side bridge suite cannot import redis', async () => {
    const run = await jestWithoutRedis(['test/bridge-django.e2e-spec.ts'], bin, {
      PIXIDE_PYTHON: join(bin, 'no-python3'),
    });

    expect(run.code).toBe(0);
    const summary = run.stderr.trimEnd().split('\n').slice(-14).join('\n');
    expect(summary).toMatch(/Tests:\s+\d+ skipped/);
    expect(summary).toContain(
      'SKIPPED Python suites (' +
        join(bin, 'no-python3') +
        ' cannot import redis): test/bridge-django.e2e-spec.ts',
    );
  }, 60_000);

  it('fails under CI when that Python cannot import redis, naming the package to install', async () => {
    const run = await jestWithoutRedis(['test/bridge-django.e2e-spec.ts'], bin, {
      CI: 'true',
      PIXIDE_PYTHON: join(bin, 'no-python3'),
    });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'needs python3-redis (CI installs the Debian package python3-redis)',
    );
    expect(run.stderr).toMatch(/Tests:\s+1 failed/);
  }, 60_000);
});
