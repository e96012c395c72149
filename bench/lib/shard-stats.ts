import Redis from 'ioredis';
import { performance } from 'node:perf_hooks';

/** One Redis node's counters at one moment (INFO cpu and commandstats, CLUSTER INFO). */
export interface ShardSample {
  /** The orchestrator's monotonic clock when the answer came, in milliseconds. */
  atMs: number;
  /** used_cpu_sys + used_cpu_user of the node, in milliseconds. */
  cpuMs: number;
  /** SPUBLISH and PUBLISH calls executed on the node, those of scripts included. */
  publishes: number;
  /**
   * Publications the node sent to other nodes over the cluster bus: every node's share of a
   * PUBLISH on a cluster, and none with sharded pub/sub and no replicas. 0 off a cluster.
   */
  busPublishes: number;
}

const INFO_FIELD = /^(\w+):(.*)$/gm;

function fields(text: string): Map<string, string> {
  return new Map([...text.matchAll(INFO_FIELD)].map(([, key, value]) => [key, value.trim()]));
}

/** `calls` of a commandstats line (`calls=10,usec=23,...`); 0 when the command never ran. */
function calls(stat: string | undefined): number {
  return Number(/calls=(\d+)/.exec(stat ?? '')?.[1] ?? 0);
}

/**
 * A sample from the text of `INFO cpu commandstats` and of `CLUSTER INFO` (undefined off a
 * cluster). Counters a node has not used yet are absent from its answers: they count as 0.
 */
export function parseShardSample(
  info: string,
  clusterInfo: string | undefined,
  atMs: number,
): ShardSample {
  const stats = fields(info);
  const bus = fields(clusterInfo ?? '');
  const cpuSeconds = Number(stats.get('used_cpu_sys')) + Number(stats.get('used_cpu_user'));
  return {
    atMs,
    cpuMs: cpuSeconds * 1000,
    publishes: calls(stats.get('cmdstat_spublish')) + calls(stats.get('cmdstat_publish')),
    busPublishes:
      Number(bus.get('cluster_stats_messages_publish_sent') ?? 0) +
      Number(bus.get('cluster_stats_messages_publishshard_sent') ?? 0),
  };
}

/**
 * Per-shard figures of a window: each master's CPU (% of one core), publications per second and
 * share of all publications, the rooms whose slot it owns, and the publications relayed over the
 * cluster bus (all shards together). Shard k is `shardK`, from 1, in the order of the masters.
 */
export function shardMetrics(
  start: readonly ShardSample[],
  end: readonly ShardSample[],
  roomsPerShard: readonly number[],
): Record<string, number> {
  const metrics: Record<string, number> = {};
  const published = end.map((sample, i) => sample.publishes - start[i].publishes);
  const total = published.reduce((sum, n) => sum + n, 0);
  let busPublishes = 0;
  end.forEach((sample, i) => {
    const from = start[i];
    const shard = `Shard${i + 1}`;
    const seconds = (sample.atMs - from.atMs) / 1000;
    metrics[`redisCpuPercent${shard}`] =
      seconds > 0 ? (sample.cpuMs - from.cpuMs) / (seconds * 10) : NaN;
    metrics[`publishesPerSecond${shard}`] = seconds > 0 ? published[i] / seconds : NaN;
    metrics[`publishShare${shard}`] = total > 0 ? published[i] / total : NaN;
    metrics[`rooms${shard}`] = roomsPerShard[i] ?? NaN;
    busPublishes += sample.busPublishes - from.busPublishes;
  });
  metrics.busPublishes = busPublishes;
  return metrics;
}

/** `host:port` as ioredis options. */
function endpoint(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/**
 * Reads the counters of a deployment's Redis nodes (each master of a cluster, or the one
 * redis-server) over one connection per node, opened for the run: a reading costs each node two
 * commands.
 */
export class ShardReader {
  private constructor(
    private readonly addresses: readonly string[],
    private readonly clients: readonly Redis[],
    private readonly cluster: boolean,
  ) {}

  static async open(addresses: readonly string[], cluster: boolean): Promise<ShardReader> {
    const clients = addresses.map(
      (address) => new Redis({ ...endpoint(address), lazyConnect: true, maxRetriesPerRequest: 1 }),
    );
    const reader = new ShardReader(addresses, clients, cluster);
    try {
      await Promise.all(clients.map((client) => client.connect()));
    } catch (error) {
      reader.close();
      throw error;
    }
    return reader;
  }

  async read(): Promise<ShardSample[]> {
    return Promise.all(
      this.clients.map(async (client) => {
        const [info, clusterInfo] = await Promise.all([
          client.info('cpu', 'commandstats'),
          this.cluster ? (client.call('CLUSTER', 'INFO') as Promise<string>) : undefined,
        ]);
        return parseShardSample(info, clusterInfo, performance.now());
      }),
    );
  }

  /**
   * How many of `roomIds` each node owns: a room's keys and channel carry its id as hash tag
   * (`P{roomId}:part`), so its slot is that of `{roomId}`. Off a cluster the one node owns all.
   */
  async roomsPerShard(roomIds: readonly string[]): Promise<number[]> {
    const counts = this.addresses.map(() => 0);
    if (!this.cluster) {
      counts[0] = roomIds.length;
      return counts;
    }
    const [client] = this.clients;
    const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    for (const roomId of roomIds) {
      const slot = (await client.call('CLUSTER', 'KEYSLOT', `{${roomId}}`)) as number;
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      const index = owner ? this.addresses.indexOf(`${owner[2][0]}:${owner[2][1]}`) : -1;
      if (index === -1) throw new Error(`no master of the deployment owns slot ${slot}`);
      counts[index] += 1;
    }
    return counts;
  }

  close(): void {
    for (const client of this.clients) client.disconnect();
  }
}
