import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisServerPath } from './support/redis-server';

const ROOT = join(__dirname, '..');
const REFERENCE_SCENARIOS = ['fan-out', 'latency', 'idle', 'churn', 'large-room'];
/** Two product instances on a redis-server against one in-memory; skipped without redis-server. */
const CLUSTER_SCENARIOS = ['cluster-fan-out', 'cluster-latency'];
const SCENARIOS = [...REFERENCE_SCENARIOS, ...(redisServerPath ? CLUSTER_SCENARIOS : [])];
/**
 * Generous, as this runs apart from npm test: a stale dist/ is rebuilt first, and other runs may
 * share the two cores.
 */
const HARNESS_TIMEOUT_MS = 240_000;

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
    'runs every scenario against both setups, prints the tables and writes the JSON file',
    async () => {
      const result = await runBench(['--quick', '--out', outDir]);

      expect(result.stderr).not.toMatch(/FAILED|run\(s\) failed/);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /product median \(min–max\)\s+reference median \(min–max\)\s+ratio/,
      );
      if (redisServerPath) {
        expect(result.stdout).toMatch(
          /2 instances \+ Redis median \(min–max\)\s+1 instance in-memory median \(min–max\)\s+ratio/,
        );
      } else {
        expect(result.stdout).toContain(`SKIPPED ${CLUSTER_SCENARIOS.join(', ')}`);
      }
      for (const scenario of SCENARIOS) {
        expect(result.stdout).toMatch(new RegExp(`^${scenario}\\s+\\S`, 'm'));
      }
      const files = readdirSync(outDir).filter((name) => name.endsWith('.json'));
      expect(files).toHaveLength(1);
      const written = JSON.parse(readFileSync(join(outDir, files[0]), 'utf8')) as WrittenResults;
      expect(written.runs.map((run) => run.server)).toEqual(
        SCENARIOS.flatMap((scenario) =>
          CLUSTER_SCENARIOS.includes(scenario) ? ['product', 'cluster'] : ['product', 'reference'],
        ),
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
