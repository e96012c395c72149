/**
 * npm run bench -- bridge: throughput of the backend bridge. One server instance (the app with
 * the test methods, test/support/bridge-server.ts) on a fresh redis-server, and many concurrent
 * requesters that each do what one Django worker running seed 003's client does: XADD a request
 * to stream:requests, BLPOP its reply list, DEL it, and again. Reports requests answered per
 * second and the round-trip percentiles; writes bench/results/bridge-<timestamp>.json.
 */
import Redis from 'ioredis';
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawnServer } from '../test/support/server-process';
import { detectPinning } from './lib/children';
import { RedisProcess, findRedisServer } from './lib/redis-process';

const ROOT = path.resolve(__dirname, '..');
const ENTRY = path.join('test', 'support', 'bridge-server.ts');
/** What the issue asks of one instance. */
const TARGET_PER_SECOND = 5_000;

interface BridgeBenchOptions {
  workers: number;
  /**
   * 0: the requests call `test.echo` (the bridge alone). N > 0: they call
   * `workspace.file_changed` into one workspace that N sockets follow (bridge plus event fan-out).
   */
  followers: number;
  durationMs: number;
  warmupMs: number;
  runs: number;
  outDir: string;
}

export const BRIDGE_USAGE = `Usage: npm run bench -- bridge [--quick] [--workers N] [--duration S] [--runs N] [--out DIR]

  --workers N    concurrent requesters, each one Django worker (default 64)
  --followers N  sockets following the workspace the requests publish workspace.file_changed
                 into (default 0: the requests call test.echo)
  --duration S   measured seconds per run, after 2 s of warm-up (default 10; --quick: 2)
  --runs N       runs, each on a fresh redis-server and server (default 3; --quick: 1)`;

function parse(argv: readonly string[]): BridgeBenchOptions {
  const quick = argv.includes('--quick');
  const options: BridgeBenchOptions = {
    workers: 64,
    followers: 0,
    durationMs: quick ? 2_000 : 10_000,
    warmupMs: quick ? 500 : 2_000,
    runs: quick ? 1 : 3,
    outDir: path.join(__dirname, 'results'),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (flag === '--quick') continue;
    if (flag === '--followers' && argv[i + 1] === '0') {
      i += 1;
      continue;
    }
    if (flag === '--out') options.outDir = path.resolve(argv[++i] ?? '.');
    else if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag}: ${BRIDGE_USAGE}`);
    else if (flag === '--workers') options.workers = Math.floor(value);
    else if (flag === '--followers') options.followers = Math.floor(value);
    else if (flag === '--duration') options.durationMs = value * 1000;
    else if (flag === '--runs') options.runs = Math.floor(value);
    else throw new Error(`unknown argument ${flag}\n${BRIDGE_USAGE}`);
    i += 1;
  }
  return options;
}

interface RunFigures {
  requestsPerSecond: number;
  /** The server's CPU time per answered request: steadier than the rate on a shared machine. */
  serverCpuUsPerRequest: number;
  /** Its CPU use over the window, in % of one core. */
  serverCpuPercent: number;
  answered: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Events the followers received per second (0 without followers). */
  eventsPerSecond: number;
}

/** The call each request makes. */
function request(followers: number): { method: string; params: object } {
  return followers === 0
    ? { method: 'test.echo', params: { key: 'bench' } }
    : {
        method: 'workspace.file_changed',
        params: { workspace_id: 'bench', file_path: 'src/main.ts', event_type: 'modify' },
      };
}

/** Opens `count` sockets following workspace:bench; counts the events they receive. */
async function follow(
  port: number,
  count: number,
  received: { events: number },
): Promise<WebSocket[]> {
  const sockets = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
      await new Promise<void>((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      const joined = new Promise<void>((resolve) =>
        socket.on('message', (data: Buffer) => {
          const text = data.toString();
          if (text.startsWith('{"type":"event"')) received.events += 1;
          else if (text.includes('"correlation_id":"follow"')) resolve();
        }),
      );
      socket.send(
        JSON.stringify({
          type: 'rpc',
          method: 'join_room',
          params: { room: 'workspace:bench' },
          correlation_id: 'follow',
        }),
      );
      await joined;
      return socket;
    }),
  );
  return sockets;
}

/** One requester: calls in a loop until `until`, recording the round trips after `from`. */
async function worker(
  url: string,
  from: number,
  until: number,
  latencies: number[],
  counts: { answered: number; errors: number },
  call: { method: string; params: object },
): Promise<void> {
  const redis = new Redis(url);
  try {
    while (performance.now() < until) {
      const cid = randomUUID();
      const replyTo = `list:response:${cid}`;
      const payload = JSON.stringify({
        type: 'rpc',
        ...call,
        correlation_id: cid,
        reply_to: replyTo,
        timeout: 30,
      });
      const started = performance.now();
      await redis.xadd('stream:requests', 'MAXLEN', '~', 10_000, '*', 'payload', payload);
      const answer = await redis.blpop(replyTo, 30);
      await redis.del(replyTo);
      const ended = performance.now();
      if (started < from) continue;
      const ok = answer !== null && (JSON.parse(answer[1]) as { type: string }).type === 'response';
      if (!ok) counts.errors += 1;
      counts.answered += 1;
      latencies.push(ended - started);
    }
  } finally {
    redis.disconnect();
  }
}

async function runOnce(redisServer: string, options: BridgeBenchOptions): Promise<RunFigures> {
  const pinning = detectPinning();
  const redis = await RedisProcess.start(redisServer, pinning);
  const server = spawnServer(
    { REDIS_URL: redis.url, RPC_CONCURRENCY: '256', REDIS_KEY_PREFIX: 'bench-bridge:' },
    ENTRY,
  );
  try {
    const port = await server.port;
    const received = { events: 0 };
    const sockets = await follow(port, options.followers, received);
    const latencies: number[] = [];
    const counts = { answered: 0, errors: 0 };
    const from = performance.now() + options.warmupMs;
    const until = from + options.durationMs;
    const pid = server.child.pid ?? 0;
    let cpuAtStart = NaN;
    let eventsAtStart = 0;
    const sample = setTimeout(() => {
      cpuAtStart = cpuMs(pid);
      eventsAtStart = received.events;
    }, options.warmupMs);
    const call = request(options.followers);
    await Promise.all(
      Array.from({ length: options.workers }, () =>
        worker(redis.url, from, until, latencies, counts, call),
      ),
    );
    clearTimeout(sample);
    const cpuUsed = cpuMs(pid) - cpuAtStart;
    const events = received.events - eventsAtStart;
    for (const socket of sockets) socket.terminate();
    latencies.sort((a, b) => a - b);
    const at = (q: number): number =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return {
      requestsPerSecond: counts.answered / (options.durationMs / 1000),
      serverCpuUsPerRequest: (cpuUsed * 1000) / counts.answered,
      serverCpuPercent: (cpuUsed / options.durationMs) * 100,
      answered: counts.answered,
      errors: counts.errors,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      eventsPerSecond: events / (options.durationMs / 1000),
    };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await redis.stop();
  }
}

/** CPU time (user + system) of process `pid` so far, in ms; NaN off Linux. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** Runs the bridge bench; resolves with the exit code (1 below the target or on errors). */
export async function runBridgeBench(argv: readonly string[]): Promise<number> {
  const options = parse(argv);
  const redisServer = findRedisServer();
  if (!redisServer) {
    console.log(
      "bench bridge: SKIPPED: redis-server is not on PATH (install Debian's redis-server)",
    );
    return 0;
  }
  console.log(
    `\nbridge: ${options.workers} requesters (XADD, BLPOP, DEL each) against one instance, ` +
      (options.followers > 0
        ? `workspace.file_changed to ${options.followers} followers, `
        : 'test.echo, ') +
      `${options.durationMs / 1000} s per run`,
  );
  const runs: RunFigures[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const figures = await runOnce(redisServer, options);
    runs.push(figures);
    console.log(
      `  run ${run}: ${figures.requestsPerSecond.toFixed(0)} req/s answered, ` +
        `server CPU ${figures.serverCpuPercent.toFixed(0)}% = ` +
        `${figures.serverCpuUsPerRequest.toFixed(0)} µs/request, ` +
        `p50 ${figures.p50Ms.toFixed(2)} ms, p99 ${figures.p99Ms.toFixed(2)} ms, errors ${figures.errors}` +
        (options.followers > 0 ? `, ${figures.eventsPerSecond.toFixed(0)} events/s delivered` : ''),
    );
  }
  const rates = runs.map((r) => r.requestsPerSecond).sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)];
  // The target is the bridge's own: with followers the instance also does the fan-out.
  const judged = options.followers === 0;
  console.log(
    `bridge: median ${median.toFixed(0)} req/s (min ${rates[0].toFixed(0)}, max ` +
      `${rates[rates.length - 1].toFixed(0)}); ` +
      (judged ? `target ${TARGET_PER_SECOND}` : 'no target (bridge plus event fan-out)'),
  );
  mkdirSync(options.outDir, { recursive: true });
  const file = path.join(
    options.outDir,
    `bridge-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  writeFileSync(
    file,
    JSON.stringify(
      {
        command: ['npm run bench -- bridge', ...argv].join(' '),
        machine: {
          cpus: os.availableParallelism(),
          cpuModel: os.cpus()[0]?.model,
          node: process.version,
          loadAverage: os.loadavg(),
        },
        options: { ...options, outDir: undefined },
        medianRequestsPerSecond: median,
        runs,
      },
      null,
      2,
    ),
  );
  console.log(`results written to ${path.relative(ROOT, file)}`);
  const slow = judged && !argv.includes('--quick') && median < TARGET_PER_SECOND;
  const failed = runs.some((r) => r.errors > 0) || slow;
  if (failed) console.error(`bridge: below ${TARGET_PER_SECOND} req/s, or errors`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  runBridgeBench(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
}
