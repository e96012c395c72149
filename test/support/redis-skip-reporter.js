// @ts-check
const { spawnSync } = require('node:child_process');
const { relative } = require('node:path');

/**
 * Says in the summary of `npm test` which Redis suites were skipped because redis-server is not
 * on PATH. `describeWithRedis` warns too, but Jest hides the console of a skipped suite run in a
 * worker, so without this the skip showed only as a count. Plain JavaScript: Jest loads reporters
 * without a transform.
 */
class RedisSkipReporter {
  /** @param {{ rootDir: string }} globalConfig */
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  /**
   * @param {unknown} _contexts
   * @param {{ testResults: { testFilePath: string, numPendingTests: number, numPassingTests: number, numFailingTests: number }[] }} results
   */
  onRunComplete(_contexts, results) {
    if (!pythonRedisImports()) {
      // The bridge's Django-side suites (test/support/python-redis.ts).
      const skipped = this.skipped(results, /django/i);
      if (skipped.length > 0) {
        process.stderr.write(
          `\n*** SKIPPED Python suites (${pythonPath()} cannot import redis): ${skipped.join(', ')}.\n` +
            '*** Install it (apt-get install python3-redis) to run them; CI requires it. ***\n\n',
        );
      }
    }
    if (redisServerOnPath()) return;
    const skipped = this.skipped(results, /redis|bridge/i);
    if (skipped.length === 0) return;
    process.stderr.write(
      `\n*** SKIPPED Redis suites (redis-server is not on PATH): ${skipped.join(', ')}.\n` +
        '*** Install it (apt-get install redis-server) to run them; CI requires it. ***\n\n',
    );
  }

  /**
   * Suites whose path matches `pattern` and whose tests were all skipped.
   * @param {{ testResults: { testFilePath: string, numPendingTests: number, numPassingTests: number, numFailingTests: number }[] }} results
   * @param {RegExp} pattern
   */
  skipped(results, pattern) {
    return results.testResults
      .filter((suite) => pattern.test(suite.testFilePath))
      .filter((suite) => suite.numPendingTests > 0 && suite.numPassingTests === 0)
      .filter((suite) => suite.numFailingTests === 0)
      .map((suite) => relative(this.rootDir, suite.testFilePath));
  }
}

/** The Python of the bridge's Django-side suites, as test/support/python-redis.ts picks it. */
function pythonPath() {
  return process.env.PIXIDE_PYTHON ?? '/usr/bin/python3';
}

function pythonRedisImports() {
  return spawnSync(pythonPath(), ['-c', 'import redis'], { stdio: 'ignore' }).status === 0;
}

function redisServerOnPath() {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0;
}

module.exports = RedisSkipReporter;
