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
import { Pinning, detectPinning } from './lib/children';
import { CoreTicks, busyPercentBetween, readCoreTicks } from './lib/core-usage';
import { CpuSample, MarkName, MemorySample, SERVER_KINDS, ServerKind } from './lib/ipc';
import { LoadProcess } from './lib/load-process';
import { ensureProductBuilt } from './lib/product-build';
import { RunRecord, formatNumber, formatTable, summarize, writeResults } from './lib/report';
import { Scenario, scenarioNamed } from './lib/scenarios';
import { ServerProcess, cpuPercentBetween } from './lib/server-process';

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
}

async function runOnce(
  scenario: Scenario,
  kind: ServerKind,
  run: number,
  context: RunContext,
): Promise<RunRecord> {
  const started = performance.now();
  const record: RunRecord = {
    scenario: scenario.name,
    server: kind,
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
  const nodeArgs = context.options.cpuProfDir
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${context.options.cpuProfDir}`,
        `--cpu-prof-name=${kind}-${scenario.name}-${run}.cpuprofile`,
      ]
    : [];
  const load = LoadProcess.fork(context.pinning, ROOT);
  let server: ServerProcess | undefined;
  try {
    server = await ServerProcess.start({
      kind,
      productEntry: PRODUCT_ENTRY,
      env: { ...process.env, ...PRODUCT_ENV },
      pinning: context.pinning,
      cwd: ROOT,
      nodeArgs,
    });
    const running = server;
    const baseline = spec.kind === 'idle' ? await running.memory() : undefined;
    const cpu: Partial<Record<MarkName, CpuSample>> = {};
    const core: Partial<Record<MarkName, CoreTicks>> = {};
    let heldMemory: MemorySample | undefined;
    const result = await load.run(spec, HOST, running.port, async (mark) => {
      if (mark !== 'held') {
        cpu[mark] = await running.cpu();
        core[mark] = readCoreTicks(context.pinning.serverCore);
        return;
      }
      heldMemory = await running.memory();
      const dir = context.options.heapSnapshotDir;
      if (dir)
        await running.heapSnapshot(path.join(dir, `${kind}-${scenario.name}-${run}.heapsnapshot`));
    });
    record.metrics = { ...result.metrics, errors: result.errors };
    record.errorSamples.push(...result.errorSamples);
    Object.assign(record.metrics, windowMetrics(cpu, core));
    if (baseline && heldMemory)
      Object.assign(record.metrics, perConnection(baseline, heldMemory, record.metrics.held));
    Object.assign(record.metrics, scenario.derive?.(record.metrics));
  } catch (error) {
    record.failure = error instanceof Error ? error.message : String(error);
  } finally {
    await Promise.all([server?.stop(), load.stop()]);
  }
  record.seconds = (performance.now() - started) / 1000;
  return record;
}

/** Server CPU, its worst stall, and what else ran on its CPU, between the start and end marks. */
function windowMetrics(
  cpu: Partial<Record<MarkName, CpuSample>>,
  core: Partial<Record<MarkName, CoreTicks>>,
): Record<string, number> {
  if (!cpu.start || !cpu.end) return {};
  const serverCpuPercent = cpuPercentBetween(cpu.start, cpu.end);
  const metrics: Record<string, number> = {
    serverCpuPercent,
    serverLoopDelayMaxMs: cpu.end.loopDelayMaxMs,
  };
  if (core.start && core.end) {
    // Other processes, and kernel work not billed to the server (softirqs), on the server's CPU.
    const busy = busyPercentBetween(core.start, core.end);
    metrics.othersOnServerCpuPercent = Math.max(0, busy - serverCpuPercent);
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
  return `${head}  ${figures.join('  ')}${errors}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
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
  const context: RunContext = { options, pinning, fdLimit };
  const startedAt = new Date();
  const machine = describeMachine(pinning, fdLimit);
  console.log(
    `bench: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.pinning}, ` +
      `load average ${machine.loadAverage.join(' ')}`,
  );
  const scenarios = options.scenarios
    .map((name) => scenarioNamed(name))
    .filter((s) => s !== undefined);
  const records: RunRecord[] = [];
  for (const scenario of scenarios) {
    console.log(`\n${scenario.name}: ${scenario.title}`);
    for (let run = 1; run <= options.runs; run++) {
      for (const kind of SERVER_KINDS) {
        const record = await runOnce(scenario, kind, run, context);
        console.log(`  ${progressLine(record, scenario)}`);
        records.push(record);
      }
    }
  }
  const rows = summarize(scenarios, records);
  console.log(`\n${formatTable(rows)}\n`);
  const file = writeResults(options.outDir, startedAt, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((n) => Math.round(n * 100) / 100) },
    options: { ...options, outDir: undefined, cpuProfDir: undefined, heapSnapshotDir: undefined },
    productEnv: PRODUCT_ENV,
    scenarios: scenarios.map((s) => ({ name: s.name, title: s.title, spec: s.spec(options) })),
    summary: rows,
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
