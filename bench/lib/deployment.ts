import { RedisCluster } from '../../test/support/redis-cluster';
import type { Pinning } from './children';
import { RedisProcess, killAtExit } from './redis-process';
import { ServerProcess } from './server-process';
import { CLUSTER_MASTERS, SETUPS, Setup } from './setups';
import { ShardReader, ShardSample } from './shard-stats';

export interface DeploymentOptions {
  productEntry: string;
  cwd: string;
  pinning: Pinning;
  /** The servers' environment: the bench's product settings over this process's. */
  env: NodeJS.ProcessEnv;
  /** redis-server, when installed. */
  redisServer: string | undefined;
  /** The redis-cluster setups on one redis-server instead: their whole flow without a cluster. */
  oneRedis: boolean;
}

/** Redis at one moment: its CPU time in ms (all nodes), and each node's counters when read. */
export interface RedisSample {
  cpuMs: number | undefined;
  shards: ShardSample[] | undefined;
}

/** The Redis of a deployment: one redis-server or a cluster, and its nodes' reader if any. */
interface RedisBackend {
  /** What the instances are given to find it: REDIS_URL or REDIS_CLUSTER_NODES. */
  env: Record<string, string>;
  shards: ShardReader | undefined;
  cpuMs(): number | undefined;
  stop(): Promise<void>;
}

/** Instance i's name in profile file names: a, b, c... */
const instanceName = (i: number): string => String.fromCharCode('a'.charCodeAt(0) + i);

/**
 * The server side of one run: one server process, or product instances on a redis-server or a
 * 3-master Redis Cluster (every process pinned to the servers' CPU). Whatever started is stopped
 * by `stop`, also when a later start failed.
 */
export class Deployment {
  private constructor(
    readonly servers: ServerProcess[],
    private readonly redis: RedisBackend | undefined,
  ) {}

  get ports(): number[] {
    return this.servers.map((server) => server.port);
  }

  static async start(
    setup: Setup,
    label: string,
    options: DeploymentOptions,
    nodeArgs: (instance: string) => string[],
  ): Promise<Deployment> {
    const { kind, backend, instances, env: settings } = SETUPS[setup];
    const env = { ...options.env, ...settings };
    const common = {
      productEntry: options.productEntry,
      pinning: options.pinning,
      cwd: options.cwd,
    };
    if (backend === 'memory') {
      const server = await ServerProcess.start({ ...common, kind, env, nodeArgs: nodeArgs(setup) });
      return new Deployment([server], undefined);
    }
    const redis =
      backend === 'redis-cluster' && !options.oneRedis
        ? await startCluster(options.pinning)
        : await startRedisServer(options, backend === 'redis-cluster');
    // A prefix of its own per run: nothing of an earlier run can leak into this one.
    const redisEnv = { ...env, ...redis.env, REDIS_KEY_PREFIX: `bench-${process.pid}-${label}:` };
    const starts = await Promise.allSettled(
      Array.from({ length: instances }, (_, i) =>
        ServerProcess.start({
          ...common,
          kind,
          env: redisEnv,
          nodeArgs: nodeArgs(`${setup}-${instanceName(i)}`),
        }),
      ),
    );
    const servers = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const deployment = new Deployment(servers, redis);
    const failed = starts.find((s) => s.status === 'rejected');
    if (failed) {
      await deployment.stop();
      throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    }
    return deployment;
  }

  /** How many of `roomIds` each Redis node owns; undefined when nodes are not read. */
  async roomsPerShard(roomIds: readonly string[]): Promise<number[] | undefined> {
    return this.redis?.shards?.roomsPerShard(roomIds);
  }

  async sampleRedis(): Promise<RedisSample> {
    const shards = await this.redis?.shards?.read();
    // On a cluster, CPU is read from the nodes (INFO); a lone redis-server's from /proc.
    const cpuMs = this.redis?.cpuMs() ?? shards?.reduce((sum, shard) => sum + shard.cpuMs, 0);
    return { cpuMs, shards };
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
    await this.redis?.stop();
  }
}

/**
 * A redis-server of the run. `readShards`: its counters are read as those of a one-node
 * cluster, so a redis-cluster setup on it (--one-redis) reports the same figures.
 */
async function startRedisServer(
  options: DeploymentOptions,
  readShards: boolean,
): Promise<RedisBackend> {
  if (!options.redisServer) throw new Error('redis-server not found on PATH');
  const redis = await RedisProcess.start(options.redisServer, options.pinning);
  let shards: ShardReader | undefined;
  try {
    if (readShards) shards = await ShardReader.open([`127.0.0.1:${redis.port}`], false);
  } catch (error) {
    await redis.stop();
    throw error;
  }
  return {
    env: { REDIS_URL: redis.url },
    shards,
    cpuMs: () => redis.cpuMs(),
    stop: async () => {
      shards?.close();
      await redis.stop();
    },
  };
}

/** Tries to form the cluster; a port taken between its probe and the node's bind fails one. */
const CLUSTER_START_ATTEMPTS = 3;

/** A 3-master Redis Cluster, pinned with the servers, and a reader of its masters. */
async function startCluster(pinning: Pinning): Promise<RedisBackend> {
  const pin =
    pinning.taskset !== undefined && pinning.serverCore !== undefined
      ? { taskset: pinning.taskset, core: pinning.serverCore }
      : undefined;
  let cluster: RedisCluster | undefined;
  for (let attempt = 1; !cluster; attempt++) {
    try {
      // Redis' default node timeout: a node slowed by the load on its core is not taken as failed.
      cluster = await RedisCluster.start({ masters: CLUSTER_MASTERS, pin, nodeTimeoutMs: 15_000 });
    } catch (error) {
      if (attempt >= CLUSTER_START_ATTEMPTS) throw error;
    }
  }
  const started = cluster;
  const forget = killAtExit(() => started.killNow());
  const stop = async (): Promise<void> => {
    await started.stop();
    forget();
  };
  // With no replicas every node is a master, in the order `--cluster create` gave them slots.
  const masters = started.addresses.slice(0, CLUSTER_MASTERS);
  let shards: ShardReader;
  try {
    shards = await ShardReader.open(masters, true);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    env: { REDIS_CLUSTER_NODES: masters.join(',') },
    shards,
    cpuMs: () => undefined,
    stop: async () => {
      shards.close();
      await stop();
    },
  };
}
