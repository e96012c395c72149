import type { Setup } from './ipc';
import type { LoadSpec } from './load-specs';

/** How a ratio product/reference is judged against the targets. */
export type Target =
  | { kind: 'ratio-at-least'; ratio: number }
  | { kind: 'ratio-at-most'; ratio: number }
  | { kind: 'ratio-below'; ratio: number }
  | { kind: 'zero' };

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
 * The two setups a scenario alternates between (baseline first in each round) and how the table
 * names them; the ratio is subject/baseline.
 */
export interface Comparison {
  subject: Setup;
  baseline: Setup;
  subjectLabel: string;
  baselineLabel: string;
}

export const PRODUCT_VS_REFERENCE: Comparison = {
  subject: 'product',
  baseline: 'reference',
  subjectLabel: 'product',
  baselineLabel: 'reference',
};

export const CLUSTER_VS_IN_MEMORY: Comparison = {
  subject: 'cluster',
  baseline: 'product',
  subjectLabel: '2 instances + Redis',
  baselineLabel: '1 instance in-memory',
};

export interface Scenario {
  name: string;
  title: string;
  /** Default: the product against the bare-ws reference. */
  compare?: Comparison;
  /** Needs redis-server (skipped with a message when it is not installed). */
  needsRedis?: boolean;
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

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'fan-out',
    title: '1,000 clients in 10 rooms of 100; 100 senders, closed loop, 3 in flight each',
    spec: (o) => ({
      kind: 'closed-loop',
      rooms: o.quick ? 2 : 10,
      membersPerRoom: o.quick ? 10 : 100,
      sendersPerRoom: o.quick ? 2 : 10,
      inFlight: 3,
      contentLength: CONTENT_LENGTH,
      warmupMs: o.quick ? 100 : 2_000,
      durationMs: duration(o, 10_000),
    }),
    metrics: [
      {
        key: 'framesPerSecond',
        label: 'delivered frames/s',
        target: { kind: 'ratio-at-least', ratio: 0.95 },
      },
      { key: 'messagesPerSecond', label: 'messages/s (own copy back)' },
      SERVER_CPU,
      { key: 'framesPerCpuSecond', label: 'frames per server CPU-second' },
      GENERATOR_CPU,
      OTHERS,
      ERRORS,
    ],
    derive: (m) => ({ framesPerCpuSecond: m.framesPerSecond / (m.serverCpuPercent / 100) }),
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
    needsRedis: true,
    spec: (o) => ({
      kind: 'closed-loop',
      rooms: o.quick ? 2 : 10,
      membersPerRoom: o.quick ? 10 : 100,
      sendersPerRoom: o.quick ? 2 : 10,
      inFlight: 3,
      contentLength: CONTENT_LENGTH,
      warmupMs: o.quick ? 100 : 2_000,
      durationMs: duration(o, 10_000),
    }),
    metrics: [
      {
        key: 'framesPerSecond',
        label: 'delivered frames/s',
        target: { kind: 'ratio-at-least', ratio: 0.5 },
      },
      { key: 'messagesPerSecond', label: 'messages/s (own copy back)' },
      { key: 'serverCpuPercent', label: 'server CPU % (instances together)' },
      REDIS_CPU,
      { key: 'framesPerCpuSecond', label: 'frames per CPU-second (instances + Redis)' },
      GENERATOR_CPU,
      OTHERS,
      ERRORS,
    ],
    derive: (m) => ({
      framesPerCpuSecond:
        m.framesPerSecond / ((m.serverCpuPercent + (m.redisCpuPercent ?? 0)) / 100),
    }),
  },
  {
    name: 'cluster-latency',
    title:
      'latency across two instances on one Redis: 200 messages/s into 10 rooms of 100, each ' +
      'room half on either instance (20,000 deliveries/s), open loop',
    compare: CLUSTER_VS_IN_MEMORY,
    needsRedis: true,
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
];

/** Names that stand for several scenarios on the command line. */
export const SCENARIO_GROUPS: Readonly<Record<string, readonly string[]>> = {
  cluster: ['cluster-fan-out', 'cluster-latency'],
};

export function comparisonOf(scenario: Scenario): Comparison {
  return scenario.compare ?? PRODUCT_VS_REFERENCE;
}

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((scenario) => scenario.name === name);
}
