import * as path from 'node:path';
import { SCENARIOS, SCENARIO_GROUPS, scenarioNamed } from './scenarios';

export interface BenchOptions {
  quick: boolean;
  scenarios: string[];
  runs: number;
  durationMs?: number;
  outDir: string;
  /** Directory for the servers' --cpu-prof profiles; none when undefined. */
  cpuProfDir?: string;
  /** Directory for heap snapshots taken while the idle connections are held. */
  heapSnapshotDir?: string;
  /** The Redis Cluster scenarios on one redis-server (REDIS_URL) instead of the cluster. */
  oneRedis: boolean;
}

export const USAGE = `Usage: npm run bench -- [--quick] [--scenario NAME]... [--runs N] [--duration S]
                        [--out DIR] [--cpu-prof DIR] [--heap-snapshot DIR] [--one-redis]

Runs every scenario against the product (dist/main.js) and the bare-ws reference server
(bench/reference-server.ts), alternating product, reference, product, ... N times each, with a
fresh server and a fresh load generator per run. Prints medians with min-max and the ratio
product/reference, and writes the runs and the table to DIR/<timestamp>.json.
The cluster-fan-out and cluster-latency scenarios instead alternate the product alone
(in-memory) with two product instances on a redis-server the harness starts (clients split
between them), ratio cluster/in-memory; they are skipped when redis-server is not on PATH. The
history scenarios
(--scenario history) alternate the product with room history on (HISTORY_SIZE 100) and off
(HISTORY_SIZE 0), in memory and on two instances and Redis, ratio on/off (target >= 0.9).
cluster-scale runs 1, 2 and 4 instances on a 3-master Redis Cluster the harness starts (skipped
without redis-server and redis-cli), with each master's CPU and share of the publications and
the ratios 2/1 and 4/1. Every judged figure ends in a verdict line (ok or MISS) after the tables.

  --quick          tiny sizes and one run (a few seconds; a smoke test of the harness)
  --scenario NAME  only this scenario (repeatable, or comma-separated): ${SCENARIOS.map((s) => s.name).join(', ')};
                   ${Object.entries(SCENARIO_GROUPS)
                     .map(([group, names]) => `${group} = ${names.join(' + ')}`)
                     .join('; ')}
  --runs N         runs per server and scenario (default 3, --quick: 1)
  --duration S     measured seconds of the timed scenarios (default 10)
  --out DIR        where the JSON goes (default bench/results)
  --cpu-prof DIR   run the servers with --cpu-prof and write the profiles to DIR
  --heap-snapshot DIR
                   write a heap snapshot of each server to DIR while the idle scenario's
                   connections are held (after the memory sample)
  --one-redis      run cluster-scale on one redis-server (REDIS_URL) instead of the cluster:
                   the same flow and figures, with one shard

Summaries: ts-node --transpile-only bench/profile-summary.ts FILE.cpuprofile
           ts-node --transpile-only bench/heap-summary.ts FILE.heapsnapshot [CONNECTIONS]`;

export class UsageError extends Error {}

const DEFAULT_RUNS = 3;

export function parseArgs(argv: readonly string[], benchDir: string): BenchOptions {
  let quick = false;
  const scenarios: string[] = [];
  let runs: number | undefined;
  let durationMs: number | undefined;
  let outDir = path.join(benchDir, 'results');
  let cpuProfDir: string | undefined;
  let heapSnapshotDir: string | undefined;
  let oneRedis = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--scenario':
        scenarios.push(
          ...value()
            .split(',')
            .filter((name) => name.length > 0)
            .flatMap((name) =>
              Object.hasOwn(SCENARIO_GROUPS, name) ? SCENARIO_GROUPS[name] : [name],
            ),
        );
        break;
      case '--runs':
        runs = positive(flag, value(), true);
        break;
      case '--duration':
        durationMs = positive(flag, value(), false) * 1000;
        break;
      case '--out':
        outDir = path.resolve(value());
        break;
      case '--cpu-prof':
        cpuProfDir = path.resolve(value());
        break;
      case '--heap-snapshot':
        heapSnapshotDir = path.resolve(value());
        break;
      case '--one-redis':
        oneRedis = true;
        break;
      default:
        throw new UsageError(`unknown argument ${flag}`);
    }
  }
  for (const name of scenarios) {
    if (!scenarioNamed(name)) throw new UsageError(`unknown scenario ${name}`);
  }
  return {
    quick,
    scenarios: scenarios.length > 0 ? scenarios : SCENARIOS.map((s) => s.name),
    runs: runs ?? (quick ? 1 : DEFAULT_RUNS),
    durationMs,
    outDir,
    cpuProfDir,
    heapSnapshotDir,
    oneRedis,
  };
}

function positive(flag: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return n;
}
