import type { ClosedLoopSpec, LoadSpec } from './load-specs';
import { CLUSTER_MASTERS, HISTORY_ON_SIZE, type Setup } from './setups';

/**
 * How a figure is judged against the issue's targets: a ratio subject/baseline (in a series,
 * every setup's over the first's), or the runs' own values.
 */
export type Target =
  | { kind: 'ratio-at-least'; ratio: number }
  | { kind: 'ratio-at-most'; ratio: number }
  | { kind: 'ratio-below'; ratio: number }
  /** No run of the subject (or, with `both`, of either setup; in a series, of any) counted any. */
  | { kind: 'zero'; both?: boolean }
  /** Every run of the subject (in a series, of every setup) within [min, max]. */
  | { kind: 'between'; min: number; max: number };

export interface MetricDef {
  key: string;
  label: string;
  target?: Target;
}

export interface SizeOptions {
  quick: boolean;
  /** Overrides the measured duration of the timed scenarios. */
  durationMs?: number;
}

/**
 * The two setups a scenario alternates between, which of them goes first in each round, and how
 * the table names them; the ratio is subject/baseline. Scenarios whose comparisons share both
 * labels share a table.
 */
export interface Comparison {
  subject: Setup;
  baseline: Setup;
  subjectLabel: string;
  baselineLabel: string;
  first: 'subject' | 'baseline';
}

export const PRODUCT_VS_REFERENCE: Comparison = {
  subject: 'product',
  baseline: 'reference',
  subjectLabel: 'product',
  baselineLabel: 'reference',
  first: 'subject',
};

export const CLUSTER_VS_IN_MEMORY: Comparison = {
  subject: 'cluster',
  baseline: 'product',
  subjectLabel: '2 instances + Redis',
  baselineLabel: '1 instance in-memory',
  first: 'baseline',
};

/**
 * Setups run one after the other in each round, each figure shown per setup with the ratio of
 * every setup over the first (a scale-out: 1, 2, 4 instances).
 */
export interface Series {
  setups: readonly Setup[];
  labels: readonly string[];
}

/** 1, 2 and 4 product instances on a 3-master Redis Cluster. */
export const CLUSTER_SCALE: Series = {
  setups: ['redis-cluster-1', 'redis-cluster-2', 'redis-cluster-4'],
  labels: ['1 instance', '2 instances', '4 instances'],
};

const HISTORY_ON_LABEL = `history on (HISTORY_SIZE ${HISTORY_ON_SIZE})`;
const HISTORY_OFF_LABEL = 'history off (HISTORY_SIZE 0)';

/** The product with and without room history, in memory. */
export const HISTORY_IN_MEMORY: Comparison = {
  subject: 'history-on',
  baseline: 'history-off',
  subjectLabel: HISTORY_ON_LABEL,
  baselineLabel: HISTORY_OFF_LABEL,
  first: 'subject',
};

/** Two instances on one Redis with and without room history (the stream beside the pub/sub). */
export const HISTORY_ON_REDIS: Comparison = {
  subject: 'cluster-history-on',
  baseline: 'cluster-history-off',
  subjectLabel: HISTORY_ON_LABEL,
  baselineLabel: HISTORY_OFF_LABEL,
  first: 'subject',
};

export interface Scenario {
  name: string;
  title: string;
  /** Default: the product against the bare-ws reference. */
  compare?: Comparison;
  /** Instead of a pair, a series of setups (`compare` is then unused). */
  scale?: Series;
  /** What it needs on PATH beyond node (skipped with a message when missing). */
  needs?: 'redis-server' | 'redis-cluster';
  spec(options: SizeOptions): LoadSpec;
  /** Rows of the table, in order; every run records at least these. */
  metrics: readonly MetricDef[];
  /** Figures computed from the load result and the server samples. */
  derive?(metrics: Record<string, number>): Record<string, number>;
}

const ERRORS: MetricDef = {
  key: 'errors',
  label: 'errors (all runs: 0)',
  target: { kind: 'zero' },
};
/** Both setups are the product here, so an error on either side spoils the comparison. */
const ERRORS_EITHER: MetricDef = {
  key: 'errors',
  label: 'errors (all runs of both: 0)',
  target: { kind: 'zero', both: true },
};
const SERVER_CPU: MetricDef = { key: 'serverCpuPercent', label: 'server CPU %' };
const GENERATOR_CPU: MetricDef = { key: 'generatorCpuPercent', label: 'generator CPU %' };
// Noise gauges: a neighbour on the server's CPU, or a stall on either side, shows here.
const OTHERS: MetricDef = {
  key: 'othersOnServerCpuPercent',
  label: "others on the server's CPU %",
};
const SERVER_STALL: MetricDef = {
  key: 'serverLoopDelayMaxMs',
  label: 'server event-loop delay max ms',
};
const GENERATOR_STALL: MetricDef = {
  key: 'generatorLoopDelayMaxMs',
  label: 'generator event-loop delay max ms',
};
const REDIS_CPU: MetricDef = { key: 'redisCpuPercent', label: 'redis-server CPU %' };
const CONTENT_LENGTH = 64;

const duration = (options: SizeOptions, full: number): number =>
  options.durationMs ?? (options.quick ? 300 : full);

/** 1,000 clients in 10 rooms of 100, 100 closed-loop senders (--quick: 2 rooms of 10). */
const fanOut = (o: SizeOptions): ClosedLoopSpec => ({
  kind: 'closed-loop',
  rooms: o.quick ? 2 : 10,
  membersPerRoom: o.quick ? 10 : 100,
  sendersPerRoom: o.quick ? 2 : 10,
  inFlight: 3,
  contentLength: CONTENT_LENGTH,
  warmupMs: o.quick ? 100 : 2_000,
  durationMs: duration(o, 10_000),
});

/** Delivered frames/s, the fan-out figure, judged against `ratio` of the baseline. */
const framesAtLeast = (ratio: number): MetricDef => ({
  key: 'framesPerSecond',
  label: 'delivered frames/s',
  target: { kind: 'ratio-at-least', ratio },
});

/**
 * The rows of a fan-out scenario on one server. `perCpu` judges frames per server CPU-second
 * too: the work a CPU-second buys, which a neighbour taking the server's core (others on the
 * server's CPU) does not change the way it changes frames/s.
 */
const fanOutMetrics = (frames: MetricDef, errors = ERRORS, perCpu?: Target): MetricDef[] => [
  frames,
  { key: 'messagesPerSecond', label: 'messages/s (own copy back)' },
  SERVER_CPU,
  { key: 'framesPerCpuSecond', label: 'frames per server CPU-second', target: perCpu },
  GENERATOR_CPU,
  OTHERS,
  errors,
];
const perServerCpuSecond = (m: Record<string, number>): Record<string, number> => ({
  framesPerCpuSecond: m.framesPerSecond / (m.serverCpuPercent / 100),
});

/** The rows of a fan-out scenario on two instances and Redis (Redis' CPU counted with theirs). */
const clusterFanOutMetrics = (frames: MetricDef, errors = ERRORS, perCpu?: Target): MetricDef[] => [
  frames,
  { key: 'messagesPerSecond', label: 'messages/s (own copy back)' },
  { key: 'serverCpuPercent', label: 'server CPU % (instances together)' },
  REDIS_CPU,
  // What Redis spends per message (the script, the PUBLISH, with history the stream): the
  // history's share of Redis, apart from the instances' share of the core.
  { key: 'redisCpuUsPerMessage', label: 'redis-server CPU µs per message' },
  {
    key: 'framesPerCpuSecond',
    label: 'frames per CPU-second (instances + Redis)',
    target: perCpu,
  },
  GENERATOR_CPU,
  OTHERS,
  errors,
];
const perClusterCpuSecond = (m: Record<string, number>): Record<string, number> => ({
  framesPerCpuSecond: m.framesPerSecond / ((m.serverCpuPercent + (m.redisCpuPercent ?? 0)) / 100),
  redisCpuUsPerMessage: ((m.redisCpuPercent ?? NaN) * 10_000) / m.messagesPerSecond,
});

const SHARDS = Array.from({ length: CLUSTER_MASTERS }, (_, i) => i + 1);

/**
 * 1,000 clients in 10 rooms of 100, 4 senders per room (one per instance with 4), closed loop
 * (--quick: 3 rooms of 8). Member k of a room is on instance k mod N. The rooms' slots put
 * 4, 3 and 3 of the 10 (1 each of the 3) on the three masters.
 */
const scaleFanOut = (o: SizeOptions): ClosedLoopSpec => ({
  kind: 'closed-loop',
  rooms: o.quick ? 3 : 10,
  membersPerRoom: o.quick ? 8 : 100,
  sendersPerRoom: 4,
  inFlight: o.quick ? 2 : 4,
  contentLength: CONTENT_LENGTH,
  warmupMs: o.quick ? 100 : 2_000,
  durationMs: duration(o, 10_000),
});

/**
 * With every room on every instance, each instance takes its copy of every message from Redis and
 * renders it once, so a CPU-second buys fewer frames as instances are added. Scale-out holds
 * while it buys at least half as many with 4 instances as with 1: with a core per instance,
 * N instances then deliver at least N/2 times one instance's frames.
 */
const SCALE_PER_CPU_TARGET: Target = { kind: 'ratio-at-least', ratio: 0.5 };
/** "About a third" each: 4, 3 and 3 rooms of 10 put 0.4, 0.3 and 0.3 on the masters. */
const SHARD_SHARE_TARGET: Target = { kind: 'between', min: 0.2, max: 0.47 };

const CLUSTER_SCALE_METRICS: readonly MetricDef[] = [
  { key: 'framesPerSecond', label: 'delivered frames/s (all instances)' },
  { key: 'framesPerSecondPerInstance', label: 'delivered frames/s per instance' },
  { key: 'instanceBalance', label: 'frames/s of the least / the most served instance' },
  { key: 'messagesPerSecond', label: 'messages/s (own copy back)' },
  { key: 'serverCpuPercent', label: 'server CPU % (instances together)' },
  { key: 'redisCpuPercent', label: 'Redis CPU % (all shards)' },
  ...SHARDS.map((k) => ({ key: `redisCpuPercentShard${k}`, label: `Redis CPU % shard ${k}` })),
  {
    key: 'framesPerCpuSecond',
    label: 'frames per CPU-second (instances + Redis)',
    target: SCALE_PER_CPU_TARGET,
  },
  { key: 'framesPerServerCpuSecond', label: 'frames per instance CPU-second' },
  {
    key: 'projectedFramesPerSecond',
    label: 'projected frames/s, a core per instance (N × the above)',
  },
  ...SHARDS.map((k) => ({ key: `roomsShard${k}`, label: `rooms on shard ${k}` })),
  ...SHARDS.map((k) => ({
    key: `publishShareShard${k}`,
    label: `share of publications, shard ${k}`,
    target: SHARD_SHARE_TARGET,
  })),
  {
    key: 'busPublishes',
    label: 'publications relayed over the cluster bus',
    target: { kind: 'zero' },
  },
  GENERATOR_CPU,
  OTHERS,
  { key: 'errors', label: 'errors (all runs: 0)', target: { kind: 'zero' } },
];

const perInstanceAndCpuSecond = (m: Record<string, number>): Record<string, number> => {
  const instances = m.instances ?? 1;
  const served = Array.from({ length: instances }, (_, i) => m[`framesPerSecondInstance${i + 1}`]);
  return {
    framesPerSecondPerInstance: m.framesPerSecond / instances,
    instanceBalance: instances > 1 ? Math.min(...served) / Math.max(...served) : 1,
    framesPerCpuSecond: m.framesPerSecond / ((m.serverCpuPercent + (m.redisCpuPercent ?? 0)) / 100),
    framesPerServerCpuSecond: m.framesPerSecond / (m.serverCpuPercent / 100),
    projectedFramesPerSecond: (instances * m.framesPerSecond) / (m.serverCpuPercent / 100),
  };
};

/** The target: history on costs at most 10% of fan-out throughput. */
const HISTORY_RATIO = 0.9;
const HISTORY_TARGET: Target = { kind: 'ratio-at-least', ratio: HISTORY_RATIO };

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'fan-out',
    title: '1,000 clients in 10 rooms of 100; 100 senders, closed loop, 3 in flight each',
    spec: fanOut,
    metrics: fanOutMetrics(framesAtLeast(0.95)),
    derive: perServerCpuSecond,
  },
  {
    name: 'latency',
    title: '200 messages/s into 10 rooms of 100 (20,000 deliveries/s), open loop',
    spec: (o) => ({
      kind: 'open-loop',
      rooms: o.quick ? 2 : 10,
      membersPerRoom: o.quick ? 10 : 100,
      sendersPerRoom: o.quick ? 2 : 10,
      messagesPerSecond: o.quick ? 50 : 200,
      contentLength: CONTENT_LENGTH,
      warmupMs: o.quick ? 100 : 2_000,
      durationMs: duration(o, 10_000),
      drainMs: o.quick ? 300 : 2_000,
      sampleEvery: 1,
    }),
    metrics: [
      { key: 'p50Ms', label: 'p50 ms' },
      { key: 'p99Ms', label: 'p99 ms', target: { kind: 'ratio-at-most', ratio: 1.25 } },
      { key: 'p999Ms', label: 'p99.9 ms' },
      { key: 'deliveriesPerSecond', label: 'deliveries/s' },
      { key: 'deliveredPercent', label: 'delivered %' },
      SERVER_CPU,
      OTHERS,
      SERVER_STALL,
      GENERATOR_STALL,
      ERRORS,
    ],
  },
  {
    name: 'idle',
    title: '10,000 connections joined to 100 rooms, memory after GC',
    spec: (o) => ({
      kind: 'idle',
      connections: o.quick ? 200 : 10_000,
      rooms: o.quick ? 10 : 100,
      settleMs: o.quick ? 100 : 1_000,
      holdMs: o.quick ? 100 : 2_000,
    }),
    metrics: [
      {
        key: 'rssPerConnectionKiB',
        label: 'RSS per connection KiB',
        target: { kind: 'ratio-at-most', ratio: 1.2 },
      },
      {
        key: 'heapPerConnectionKiB',
        label: 'heap per connection KiB',
        target: { kind: 'ratio-at-most', ratio: 1.2 },
      },
      { key: 'externalPerConnectionKiB', label: 'external per connection KiB' },
      { key: 'held', label: 'connections held' },
      { key: 'connectsPerSecond', label: 'connect+join/s' },
      ERRORS,
    ],
  },
  {
    name: 'churn',
    title: '20 loops of connect, join, close next to 10 rooms of 10 residents',
    spec: (o) => ({
      kind: 'churn',
      rooms: o.quick ? 2 : 10,
      residentsPerRoom: o.quick ? 3 : 10,
      concurrency: o.quick ? 4 : 20,
      warmupMs: o.quick ? 100 : 1_000,
      durationMs: duration(o, 10_000),
    }),
    metrics: [
      { key: 'cyclesPerSecond', label: 'cycles/s', target: { kind: 'ratio-at-least', ratio: 0.8 } },
      SERVER_CPU,
      { key: 'serverCpuMsPerCycle', label: 'server CPU ms per cycle' },
      GENERATOR_CPU,
      OTHERS,
      ERRORS,
    ],
    derive: (m) => ({ serverCpuMsPerCycle: (m.serverCpuPercent * 10) / m.cyclesPerSecond }),
  },
  {
    name: 'large-room',
    title: 'one room of 2,000 members, a message every 10 ms (200,000 deliveries/s offered)',
    spec: (o) => ({
      kind: 'open-loop',
      rooms: 1,
      membersPerRoom: o.quick ? 50 : 2_000,
      sendersPerRoom: 1,
      messagesPerSecond: 100,
      contentLength: CONTENT_LENGTH,
      warmupMs: o.quick ? 100 : 1_000,
      durationMs: duration(o, 10_000),
      drainMs: o.quick ? 300 : 3_000,
      sampleEvery: 10,
    }),
    metrics: [
      { key: 'fillSeconds', label: 'time to fill the room s' },
      { key: 'deliveriesPerSecond', label: 'deliveries/s' },
      { key: 'p50Ms', label: 'p50 ms' },
      { key: 'p99Ms', label: 'p99 ms' },
      { key: 'deliveredPercent', label: 'delivered % (after drain)' },
      SERVER_CPU,
      GENERATOR_CPU,
      OTHERS,
      ERRORS,
    ],
  },
  {
    name: 'cluster-fan-out',
    title:
      'fan-out across two instances on one Redis: 1,000 clients in 10 rooms of 100, each room ' +
      'half on either instance; 100 senders (half on each), closed loop, 3 in flight each',
    compare: CLUSTER_VS_IN_MEMORY,
    needs: 'redis-server',
    spec: fanOut,
    metrics: clusterFanOutMetrics(framesAtLeast(0.5)),
    derive: perClusterCpuSecond,
  },
  {
    name: 'cluster-latency',
    title:
      'latency across two instances on one Redis: 200 messages/s into 10 rooms of 100, each ' +
      'room half on either instance (20,000 deliveries/s), open loop',
    compare: CLUSTER_VS_IN_MEMORY,
    needs: 'redis-server',
    spec: (o) => ({
      kind: 'open-loop',
      rooms: o.quick ? 2 : 10,
      membersPerRoom: o.quick ? 10 : 100,
      sendersPerRoom: o.quick ? 2 : 10,
      messagesPerSecond: o.quick ? 50 : 200,
      contentLength: CONTENT_LENGTH,
      warmupMs: o.quick ? 100 : 2_000,
      durationMs: duration(o, 10_000),
      drainMs: o.quick ? 300 : 2_000,
      sampleEvery: 1,
    }),
    metrics: [
      { key: 'p50Ms', label: 'p50 ms' },
      { key: 'p99Ms', label: 'p99 ms', target: { kind: 'ratio-below', ratio: 2 } },
      { key: 'p999Ms', label: 'p99.9 ms' },
      { key: 'deliveriesPerSecond', label: 'deliveries/s' },
      { key: 'deliveredPercent', label: 'delivered %' },
      { key: 'serverCpuPercent', label: 'server CPU % (instances together)' },
      REDIS_CPU,
      OTHERS,
      SERVER_STALL,
      GENERATOR_STALL,
      ERRORS,
    ],
  },
  {
    name: 'history-fan-out',
    title:
      'fan-out in memory with room history on against off: 1,000 clients in 10 rooms of 100; ' +
      '100 senders, closed loop, 3 in flight each',
    compare: HISTORY_IN_MEMORY,
    spec: fanOut,
    metrics: fanOutMetrics(framesAtLeast(HISTORY_RATIO), ERRORS_EITHER, HISTORY_TARGET),
    derive: perServerCpuSecond,
  },
  {
    name: 'cluster-history-fan-out',
    title:
      'fan-out across two instances on one Redis with room history on against off: 1,000 ' +
      'clients in 10 rooms of 100, each room half on either instance; 100 senders, closed loop',
    compare: HISTORY_ON_REDIS,
    needs: 'redis-server',
    spec: fanOut,
    metrics: clusterFanOutMetrics(framesAtLeast(HISTORY_RATIO), ERRORS_EITHER, HISTORY_TARGET),
    derive: perClusterCpuSecond,
  },
  {
    name: 'cluster-scale',
    title:
      'scale-out on a 3-master Redis Cluster: 1, 2 and 4 instances; 1,000 clients in 10 rooms ' +
      'of 100 spread over the instances; 40 senders (4 per room), closed loop, 4 in flight each',
    scale: CLUSTER_SCALE,
    needs: 'redis-cluster',
    spec: scaleFanOut,
    metrics: CLUSTER_SCALE_METRICS,
    derive: perInstanceAndCpuSecond,
  },
];

/** Names that stand for several scenarios on the command line. */
export const SCENARIO_GROUPS: Readonly<Record<string, readonly string[]>> = {
  cluster: ['cluster-fan-out', 'cluster-latency'],
  history: ['history-fan-out', 'cluster-history-fan-out'],
};

export function comparisonOf(scenario: Scenario): Comparison {
  return scenario.compare ?? PRODUCT_VS_REFERENCE;
}

/** The setups of one round of `scenario`, in the order they run. */
export function roundOrder(scenario: Scenario): Setup[] {
  if (scenario.scale) return [...scenario.scale.setups];
  const { subject, baseline, first } = comparisonOf(scenario);
  return first === 'subject' ? [subject, baseline] : [baseline, subject];
}

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((scenario) => scenario.name === name);
}
