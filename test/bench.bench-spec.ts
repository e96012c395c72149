import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCliPath } from './support/redis-cluster';
import { redisServerPath } from './support/redis-server';

const ROOT = join(__dirname, '..');
const REFERENCE_SCENARIOS = ['fan-out', 'latency', 'idle', 'churn', 'large-room'];
/** Two product instances on a redis-server against one in-memory; skipped without redis-server. */
const CLUSTER_SCENARIOS = ['cluster-fan-out', 'cluster-latency'];
/** History on against off: in memory, and on two instances and Redis (needs redis-server). */
const HISTORY_SCENARIO = 'history-fan-out';
const CLUSTER_HISTORY_SCENARIO = 'cluster-history-fan-out';
/** 1, 2 and 4 instances on a 3-master Redis Cluster; skipped without redis-server or redis-cli. */
const SCALE_SCENARIO = 'cluster-scale';
const SCALE_SETUPS = ['redis-cluster-1', 'redis-cluster-2', 'redis-cluster-4'];
const NEEDS_REDIS = [...CLUSTER_SCENARIOS, CLUSTER_HISTORY_SCENARIO];
const clusterTools = redisServerPath !== undefined && redisCliPath !== undefined;
const SCENARIOS = [
  ...REFERENCE_SCENARIOS,
  ...(redisServerPath ? CLUSTER_SCENARIOS : []),
  HISTORY_SCENARIO,
  ...(redisServerPath ? [CLUSTER_HISTORY_SCENARIO] : []),
  ...(clusterTools ? [SCALE_SCENARIO] : []),
];
/** The setups of one round of each scenario, in the order they run. */
const ROUND: Readonly<Record<string, string[]>> = {
  ...Object.fromEntries(REFERENCE_SCENARIOS.map((name) => [name, ['product', 'reference']])),
  ...Object.fromEntries(CLUSTER_SCENARIOS.map((name) => [name, ['product', 'cluster']])),
  [HISTORY_SCENARIO]: ['history-on', 'history-off'],
  [CLUSTER_HISTORY_SCENARIO]: ['cluster-history-on', 'cluster-history-off'],
  [SCALE_SCENARIO]: SCALE_SETUPS,
};
/**
 * Generous, as this runs apart from npm test: a stale dist/ is rebuilt first, cluster-scale
 * starts three clusters and seven instances, and other runs may share the two cores.
 */
const HARNESS_TIMEOUT_MS = 360_000;

/** The parts of the results file this smoke test looks at. */
interface WrittenResults {
  runs: { server: string; failure?: string }[];
  summary: { scenario: string }[];
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bench/run.ts as `npm run bench` would, in a child process. */
function runBench(args: string[]): Promise<CliResult> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'bench/run.ts', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), HARNESS_TIMEOUT_MS);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

// A smoke run of the harness at tiny sizes, so it does not rot. No figure is asserted: speed
// belongs to `npm run bench`. It rebuilds a stale dist/ and runs for a minute, so it is not part
// of `npm test`: `npm run test:bench` (jest.bench.config.js) runs it, and CI runs that too.
describe('npm run bench (harness smoke run)', () => {
  let outDir: string;

  beforeEach(() => {
    outDir = mkdtempSync(join(tmpdir(), 'pixide-bench-'));
  });

  afterEach(() => {
    rmSync(outDir, { recursive: true, force: true });
  });

  it(
    'runs every scenario against its setups, prints the tables and writes the JSON file',
    async () => {
      const result = await runBench(['--quick', '--out', outDir]);

      expect(result.stderr).not.toMatch(/FAILED|run\(s\) failed/);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /product median \(min–max\)\s+reference median \(min–max\)\s+ratio/,
      );
      expect(result.stdout).toMatch(
        /history on \(HISTORY_SIZE 100\) median \(min–max\)\s+history off \(HISTORY_SIZE 0\) median \(min–max\)\s+ratio/,
      );
      if (redisServerPath) {
        expect(result.stdout).toMatch(
          /2 instances \+ Redis median \(min–max\)\s+1 instance in-memory median \(min–max\)\s+ratio/,
        );
      } else {
        expect(result.stdout).toContain(`SKIPPED ${[...NEEDS_REDIS, SCALE_SCENARIO].join(', ')}`);
      }
      if (clusterTools) {
        expect(result.stdout).toMatch(
          /1 instance median \(min–max\)\s+2 instances median \(min–max\)\s+4 instances median \(min–max\)\s+2\/1\s+4\/1/,
        );
        // What shows sharded pub/sub is judged, whatever the tiny sizes make of it.
        expect(result.stdout).toMatch(
          /^(ok|MISS)\s+cluster-scale\s+publications relayed over the cluster bus\s+max \d+\s+all 0/m,
        );
      } else if (redisServerPath) {
        expect(result.stdout).toContain(`SKIPPED ${SCALE_SCENARIO}: redis-cli is not on PATH`);
      }
      for (const scenario of SCENARIOS) {
        expect(result.stdout).toMatch(new RegExp(`^${scenario}\\s+\\S`, 'm'));
      }
      // The history target is judged, with a verdict, for each backend that ran.
      for (const scenario of [
        HISTORY_SCENARIO,
        ...(redisServerPath ? [CLUSTER_HISTORY_SCENARIO] : []),
      ]) {
        expect(result.stdout).toMatch(
          new RegExp(
            `^(ok|MISS)\\s+${scenario}\\s+delivered frames/s\\s+ratio \\S+\\s+>= 0\\.9`,
            'm',
          ),
        );
      }
      const files = readdirSync(outDir).filter((name) => name.endsWith('.json'));
      expect(files).toHaveLength(1);
      const written = JSON.parse(readFileSync(join(outDir, files[0]), 'utf8')) as WrittenResults;
      expect(written.runs.map((run) => run.server)).toEqual(
        SCENARIOS.flatMap((scenario) => ROUND[scenario]),
      );
      expect(written.runs.filter((run) => run.failure)).toEqual([]);
      expect(new Set(written.summary.map((row) => row.scenario))).toEqual(new Set(SCENARIOS));
    },
    HARNESS_TIMEOUT_MS + 5_000,
  );

  it('refuses an unknown scenario with exit status 2 and the usage', async () => {
    const result = await runBench(['--scenario', 'nonesuch', '--out', outDir]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown scenario nonesuch');
    expect(result.stderr).toContain('Usage: npm run bench');
    expect(readdirSync(outDir)).toEqual([]);
  });
});
