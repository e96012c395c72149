import { spawnSync } from 'node:child_process';
import { describeWithRedis } from './redis-server';

/**
 * Debian's Python with its python3-redis package (`apt-get install python3-redis`), which the
 * Django-side tests of the bridge run: not the pyenv python3 on PATH, whose packages differ.
 * `PIXIDE_PYTHON` points elsewhere (the test of the skip itself uses it).
 */
export const pythonPath = process.env.PIXIDE_PYTHON ?? '/usr/bin/python3';

/** Why `import redis` fails in that Python, or undefined when it works. */
export const pythonRedisMissing: string | undefined = (() => {
  const probe = spawnSync(pythonPath, ['-c', 'import redis'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  return probe.error ? probe.error.message : probe.stderr.trim().split('\n').pop();
})();

export const pythonRedisRequired =
  process.env.CI === 'true' || process.env.REQUIRE_PYTHON_REDIS === '1';

/**
 * `describe` for suites that drive the bridge from Python (and need redis-server too): without
 * python3-redis they are skipped with a warning naming the package, and fail under CI (or
 * REQUIRE_PYTHON_REDIS=1), as describeWithRedis does for redis-server.
 */
export function describeWithPythonRedis(name: string, body: () => void): void {
  if (!pythonRedisMissing) {
    describeWithRedis(name, body);
    return;
  }
  const why = `${pythonPath} cannot import redis (${pythonRedisMissing})`;
  if (pythonRedisRequired) {
    describe(name, () => {
      it('needs python3-redis (CI installs the Debian package python3-redis)', () => {
        throw new Error(`${why}, and this run requires it`);
      });
    });
    return;
  }
  console.warn(
    `\n*** SKIPPED Python suite "${name}": ${why}. ` +
      'Install it (apt-get install python3-redis) to run it; CI requires it. ***\n',
  );
  describe.skip(name, body);
}
