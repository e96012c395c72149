import type { ServerKind } from './ipc';

/**
 * What one run measures, by name (the name is what the results file records per run): one
 * server process, or product instances sharing a redis-server or a Redis Cluster the harness
 * starts (the clients split between them), each with the product settings the comparison is about.
 */
export type Setup =
  | ServerKind
  | 'cluster'
  | 'history-on'
  | 'history-off'
  | 'cluster-history-on'
  | 'cluster-history-off'
  | 'redis-cluster-1'
  | 'redis-cluster-2'
  | 'redis-cluster-4';

/** Where the instances of a setup keep their rooms. */
export type Backend = 'memory' | 'redis-server' | 'redis-cluster';

export interface SetupDef {
  kind: ServerKind;
  backend: Backend;
  /** Product instances (more than one only on Redis). */
  instances: number;
  /** Product settings on top of the bench's (bench/run.ts PRODUCT_ENV). */
  env: Readonly<Record<string, string>>;
}

/** Masters of the Redis Cluster the redis-cluster setups run on, each owning a third of the slots. */
export const CLUSTER_MASTERS = 3;

/**
 * HISTORY_SIZE of the history-on setups: AppConfig's default, spelled out so that the pair
 * measures history on against off even if the default or the bench's settings change.
 */
export const HISTORY_ON_SIZE = 100;
const HISTORY_ON = { HISTORY_SIZE: String(HISTORY_ON_SIZE) };
const HISTORY_OFF = { HISTORY_SIZE: '0' };

const inMemory = (kind: ServerKind, env = {}): SetupDef => ({
  kind,
  backend: 'memory',
  instances: 1,
  env,
});
const onRedis = (env = {}): SetupDef => ({
  kind: 'product',
  backend: 'redis-server',
  instances: 2,
  env,
});
/** The bridge's streams in one slot, as the product requires on a cluster (README). */
const CLUSTER_STREAMS = {
  RPC_REQUEST_STREAM: '{rpc}:requests',
  RPC_DEAD_LETTER_STREAM: '{rpc}:requests:dlq',
};
const onCluster = (instances: number): SetupDef => ({
  kind: 'product',
  backend: 'redis-cluster',
  instances,
  env: CLUSTER_STREAMS,
});

export const SETUPS: Readonly<Record<Setup, SetupDef>> = {
  product: inMemory('product'),
  reference: inMemory('reference'),
  cluster: onRedis(),
  'history-on': inMemory('product', HISTORY_ON),
  'history-off': inMemory('product', HISTORY_OFF),
  'cluster-history-on': onRedis(HISTORY_ON),
  'cluster-history-off': onRedis(HISTORY_OFF),
  'redis-cluster-1': onCluster(1),
  'redis-cluster-2': onCluster(2),
  'redis-cluster-4': onCluster(4),
};
