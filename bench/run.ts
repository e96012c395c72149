/**
 * npm run bench: every scenario against the product and the bare-ws reference, alternating
 * product, reference, product, ... with a fresh server and load generator per run, pinned to
 * separate cores. Prints medians with min–max and the ratio product/reference; writes a JSON file.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchOptions, USAGE, UsageError, parseArgs } from './lib/args';
import { runBridgeBench } from './bridge-bench';
import { Pinning, detectPinning } from './lib/children';
import { CoreTicks, busyPercentBetween, readCoreTicks } from './lib/core-usage';
import { CpuSample, MarkName, MemorySample } from './lib/ipc';
import { LoadProcess } from './lib/load-process';
import { ensureProductBuilt } from './lib/product-build';
import { Deployment, RedisSample } from './lib/deployment';
import { roomsOf } from './lib/load-specs';
import { findRedisServer } from './lib/redis-process';
import {
  RunRecord,
  formatNumber,
  formatSeriesTables,
  formatTable,
  formatVerdicts,
  summarize,
  summarizeSeries,
  writeResults,
} from './lib/report';
import { Scenario, comparisonOf, roundOrder, scenarioNamed } from './lib/scenarios';
import { cpuPercentBetween } from './lib/server-process';
import { Setup } from './lib/setups';
import { shardMetrics } from './lib/shard-stats';
import { redisCliPath } from '../test/support/redis-cluster';

const ROOT = path.resolve(__dirname, '..');
const PRODUCT_ENTRY = path.join(ROOT, 'dist', 'main.js');
const HOST = '127.0.0.1';
/** File descriptors a process needs beyond its connections (modules, pipes, the listener). */
const FD_HEADROOM = 256;

/**
 * The product's limits, configured rather than disabled: every client comes from 127.0.0.1 and
 * sends far faster than a person, and a generator busy on its one core may read late.
 */
const PRODUCT_ENV: Readonly<Record<string, string>> = {
  HOST,
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_SECOND: '1000000',
  RATE_LIMIT_BURST: '1000000',
  ABUSE_ERRORS_MAX: '1000000',
  MAX_CONNECTIONS: '100000',
  MAX_CONNECTIONS_PER_IP: '100000',
  MAX_BUFFERED_BYTES: String(8 * 1024 * 1024),
  JOIN_TIMEOUT_MS: '60000',
};

function clusterPinning(pinning: Pinning): string {
  return pinning.serverCore === undefined
    ? 'no pinning; the product instances and Redis share the machine with the generator'
    : `every product instance and Redis node on CPU ${pinning.serverCore}, load generator on ` +
        `CPU ${pinning.loadCore} (the instances pay for Redis on their core)`;
}

/** What the Redis scenarios run besides node, and the Debian package that brings it. */
const DEBIAN_PACKAGE = { 'redis-server': 'redis-server', 'redis-cli': 'redis-tools' } as const;
type Program = keyof typeof DEBIAN_PACKAGE;

/** The program a scenario needs that is not on PATH, or undefined when it can run. */
function missingFor(scenario: Scenario, context: RunContext): Program | undefined {
  if (!scenario.needs) return undefined;
  if (!context.redisServer) return 'redis-server';
  const cluster = scenario.needs === 'redis-cluster' && !context.options.oneRedis;
  return cluster && !redisCliPath ? 'redis-cli' : undefined;
}

interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  pinning: string;
  fileDescriptorLimit: number | undefined;
  loadAverage: number[];
}

function describeMachine(pinning: Pinning, fdLimit: number | undefined): Machine {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    pinning:
      pinning.serverCore === undefined
        ? 'none (taskset missing or a single CPU)'
        : `server on CPU ${pinning.serverCore}, load generator on CPU ${pinning.loadCore}`,
    fileDescriptorLimit: fdLimit,
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/**
 * The limit on open files of a node child (node raises its soft limit to the hard limit when it
 * starts, so no `ulimit` in the npm script could do more; only the hard limit counts).
 */
function fileDescriptorLimit(): number | undefined {
  const answer = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout?.trim();
  if (answer === 'unlimited') return Infinity;
  const n = Number(answer);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

interface RunContext {
  options: BenchOptions;
  pinning: Pinning;
  fdLimit: number | undefined;
  /** redis-server for the Redis scenarios; undefined when it is not installed. */
  redisServer: string | undefined;
}

interface CpuMark {
  samples: CpuSample[];
  redis: RedisSample;
  core: CoreTicks | undefined;
}

async function runOnce(
  scenario: Scenario,
  setup: Setup,
  run: number,
  context: RunContext,
): Promise<RunRecord> {
  const started = performance.now();
  const record: RunRecord = {
    scenario: scenario.name,
    server: setup,
    run,
    metrics: {},
    errorSamples: [],
    seconds: 0,
  };
  const spec = scenario.spec({
    quick: context.options.quick,
    durationMs: context.options.durationMs,
  });
  if (
    spec.kind === 'idle' &&
    context.fdLimit !== undefined &&
    spec.connections + FD_HEADROOM > context.fdLimit
  ) {
    const fitting = Math.max(0, context.fdLimit - FD_HEADROOM);
    record.errorSamples.push(
      `ulimit -n is ${context.fdLimit}: ${fitting} connections instead of ${spec.connections}`,
    );
    spec.connections = fitting;
  }
  const profileDir = context.options.cpuProfDir;
  const nodeArgs = (instance: string): string[] =>
    profileDir
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${profileDir}`,
          `--cpu-prof-name=${instance}-${scenario.name}-${run}.cpuprofile`,
        ]
      : [];
  const load = LoadProcess.fork(context.pinning, ROOT);
  let deployment: Deployment | undefined;
  try {
    const started = await Deployment.start(
      setup,
      `${scenario.name}-${run}`,
      {
        productEntry: PRODUCT_ENTRY,
        cwd: ROOT,
        pinning: context.pinning,
        env: { ...process.env, ...PRODUCT_ENV },
        redisServer: context.redisServer,
        oneRedis: context.options.oneRedis,
      },
      nodeArgs,
    );
    deployment = started;
    const { servers } = started;
    const rooms = await started.roomsPerShard(roomsOf(spec));
    // Memory figures are those of the first server (the idle scenario runs one).
    const first = servers[0];
    const baseline = spec.kind === 'idle' ? await first.memory() : undefined;
    const cpu: Partial<Record<MarkName, CpuMark>> = {};
    let heldMemory: MemorySample | undefined;
    const result = await load.run(spec, HOST, deployment.ports, async (mark) => {
      if (mark !== 'held') {
        const [samples, redis] = await Promise.all([
          Promise.all(servers.map((server) => server.cpu())),
          started.sampleRedis(),
        ]);
        const core = readCoreTicks(context.pinning.serverCore);
        cpu[mark] = { samples, redis, core };
        return;
      }
      heldMemory = await first.memory();
      const dir = context.options.heapSnapshotDir;
      if (dir)
        await first.heapSnapshot(path.join(dir, `${setup}-${scenario.name}-${run}.heapsnapshot`));
    });
    record.metrics = { ...result.metrics, errors: result.errors, instances: servers.length };
    record.errorSamples.push(...result.errorSamples);
    Object.assign(record.metrics, windowMetrics(cpu));
    const { start, end } = cpu;
    if (start?.redis.shards && end?.redis.shards)
      Object.assign(
        record.metrics,
        shardMetrics(start.redis.shards, end.redis.shards, rooms ?? []),
      );
    if (baseline && heldMemory)
      Object.assign(record.metrics, perConnection(baseline, heldMemory, record.metrics.held));
    Object.assign(record.metrics, scenario.derive?.(record.metrics));
  } catch (error) {
    record.failure = error instanceof Error ? error.message : String(error);
  } finally {
    await Promise.all([deployment?.stop(), load.stop()]);
  }
  record.seconds = (performance.now() - started) / 1000;
  return record;
}

/**
 * Server CPU (the instances' together), the worst stall of any of them, redis-server's CPU, and
 * what else ran on the servers' CPU, between the start and end marks.
 */
function windowMetrics(cpu: Partial<Record<MarkName, CpuMark>>): Record<string, number> {
  const { start, end } = cpu;
  if (!start || !end) return {};
  let serverCpuPercent = 0;
  start.samples.forEach((from, i) => (serverCpuPercent += cpuPercentBetween(from, end.samples[i])));
  const metrics: Record<string, number> = {
    serverCpuPercent,
    serverLoopDelayMaxMs: Math.max(...end.samples.map((s) => s.loopDelayMaxMs)),
  };
  let redisCpuPercent = 0;
  const [fromMs, toMs] = [start.redis.cpuMs, end.redis.cpuMs];
  if (fromMs !== undefined && toMs !== undefined) {
    const wallMs = end.samples[0].atMs - start.samples[0].atMs;
    redisCpuPercent = wallMs > 0 ? ((toMs - fromMs) / wallMs) * 100 : NaN;
    metrics.redisCpuPercent = redisCpuPercent;
  }
  if (start.core && end.core) {
    // Other processes, and kernel work not billed to the servers (softirqs), on the server's CPU.
    const busy = busyPercentBetween(start.core, end.core);
    metrics.othersOnServerCpuPercent = Math.max(0, busy - serverCpuPercent - redisCpuPercent);
  }
  return metrics;
}

function perConnection(
  before: MemorySample,
  after: MemorySample,
  connections: number | undefined,
): Record<string, number> {
  const n = connections ?? 0;
  const kib = (bytes: number): number => (n > 0 ? bytes / n / 1024 : NaN);
  return {
    rssPerConnectionKiB: kib(after.rss - before.rss),
    heapPerConnectionKiB: kib(after.heapUsed - before.heapUsed),
    externalPerConnectionKiB: kib(after.external - before.external),
  };
}

function progressLine(record: RunRecord, scenario: Scenario): string {
  const head = `${scenario.name} run ${record.run} ${record.server.padEnd(9)} ${record.seconds.toFixed(1)} s`;
  if (record.failure) return `${head}  FAILED: ${record.failure}`;
  const figures = scenario.metrics
    .slice(0, 3)
    .map((metric) => `${metric.key} ${formatNumber(record.metrics[metric.key] ?? NaN)}`);
  const errors = record.metrics.errors
    ? `  errors ${record.metrics.errors}: ${record.errorSamples.join('; ')}`
    : '';
  const others = record.metrics.othersOnServerCpuPercent;
  if (others !== undefined) figures.push(`others on server CPU ${formatNumber(others)}%`);
  const shares = Object.keys(record.metrics)
    .filter((key) => key.startsWith('publishShareShard'))
    .map((key) => formatNumber(record.metrics[key]));
  if (shares.length > 0) figures.push(`publications per shard ${shares.join('/')}`);
  return `${head}  ${figures.join('  ')}${errors}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // `npm run bench -- bridge …`: the backend bridge's throughput (bench/bridge-bench.ts).
  if (argv[0] === 'bridge') return runBridgeBench(argv.slice(1));
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const options = parseArgs(argv, __dirname);
  if (!ensureProductBuilt(ROOT, PRODUCT_ENTRY)) {
    console.error('bench: the product build failed');
    return 2;
  }
  for (const dir of [options.cpuProfDir, options.heapSnapshotDir]) {
    if (dir) mkdirSync(dir, { recursive: true });
  }
  const pinning = detectPinning();
  const fdLimit = fileDescriptorLimit();
  const redisServer = findRedisServer();
  const context: RunContext = { options, pinning, fdLimit, redisServer };
  const startedAt = new Date();
  const machine = describeMachine(pinning, fdLimit);
  console.log(
    `bench: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.pinning}, ` +
      `load average ${machine.loadAverage.join(' ')}`,
  );
  const selected = options.scenarios
    .map((name) => scenarioNamed(name))
    .filter((s) => s !== undefined);
  const skipped = selected.filter((s) => missingFor(s, context) !== undefined);
  for (const program of Object.keys(DEBIAN_PACKAGE) as Program[]) {
    const names = skipped.filter((s) => missingFor(s, context) === program).map((s) => s.name);
    if (names.length === 0) continue;
    console.log(
      `bench: SKIPPED ${names.join(', ')}: ${program} is not on PATH ` +
        `(install Debian's ${DEBIAN_PACKAGE[program]} package to run them)`,
    );
  }
  const scenarios = selected.filter((s) => !skipped.includes(s));
  if (scenarios.some((s) => s.needs))
    console.log(`bench: Redis scenarios: ${clusterPinning(pinning)}`);
  if (options.oneRedis && scenarios.some((s) => s.needs === 'redis-cluster'))
    console.log('bench: --one-redis: the Redis Cluster scenarios run on one redis-server');
  const records: RunRecord[] = [];
  for (const scenario of scenarios) {
    console.log(`\n${scenario.name}: ${scenario.title}`);
    // Alternating (A B A B ...): a neighbour's burst hits both setups alike.
    const order = roundOrder(scenario);
    for (let run = 1; run <= options.runs; run++) {
      for (const setup of order) {
        const record = await runOnce(scenario, setup, run, context);
        console.log(`  ${progressLine(record, scenario)}`);
        records.push(record);
      }
    }
  }
  const rows = summarize(scenarios, records);
  const seriesRows = summarizeSeries(scenarios, records);
  const tables = [formatTable(rows, scenarios), formatSeriesTables(seriesRows, scenarios)];
  if (scenarios.length > 0) {
    console.log(`\n${tables.filter((table) => table.length > 0).join('\n\n')}\n`);
    console.log(`${formatVerdicts([...rows, ...seriesRows])}\n`);
  }
  const file = writeResults(options.outDir, startedAt, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((n) => Math.round(n * 100) / 100) },
    options: { ...options, outDir: undefined, cpuProfDir: undefined, heapSnapshotDir: undefined },
    productEnv: PRODUCT_ENV,
    scenarios: scenarios.map((s) => ({
      name: s.name,
      title: s.title,
      compare: s.scale ?? comparisonOf(s),
      spec: s.spec(options),
    })),
    skipped: skipped.map((s) => s.name),
    summary: [...rows, ...seriesRows],
    runs: records,
  });
  console.log(`results written to ${path.relative(process.cwd(), file) || file}`);
  const failed = records.filter((r) => r.failure).length;
  if (failed > 0) console.error(`${failed} run(s) failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
