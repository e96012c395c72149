import Redis from 'ioredis';
import { RedisCluster, describeWithRedisCluster } from '../../test/support/redis-cluster';
import { ShardReader, ShardSample, parseShardSample, shardMetrics } from './shard-stats';

const INFO = [
  '# CPU',
  'used_cpu_sys:1.250000',
  'used_cpu_user:0.750000',
  '',
  '# Commandstats',
  'cmdstat_eval:calls=40,usec=377,usec_per_call=9.43,rejected_calls=0,failed_calls=0',
  'cmdstat_spublish:calls=30,usec=23,usec_per_call=0.77,rejected_calls=0,failed_calls=0',
  'cmdstat_publish:calls=10,usec=83,usec_per_call=8.30,rejected_calls=0,failed_calls=0',
].join('\r\n');

const sample = (atMs: number, cpuMs: number, publishes: number, bus = 0): ShardSample => ({
  atMs,
  cpuMs,
  publishes,
  busPublishes: bus,
});

describe('the Redis nodes figures of the bench', () => {
  it('reads CPU time, publications of both kinds and bus relays from INFO answers', () => {
    const clusterInfo = [
      'cluster_state:ok',
      'cluster_stats_messages_publish_sent:7',
      'cluster_stats_messages_publishshard_sent:2',
    ].join('\r\n');

    expect(parseShardSample(INFO, clusterInfo, 5)).toEqual(sample(5, 2_000, 40, 9));
  });

  it('counts what a node has never done as 0', () => {
    const idle = '# CPU\r\nused_cpu_sys:0.5\r\nused_cpu_user:0.5\r\n\r\n# Commandstats\r\n';

    expect(parseShardSample(idle, 'cluster_state:ok', 0)).toEqual(sample(0, 1_000, 0));
    expect(parseShardSample(idle, undefined, 0).busPublishes).toBe(0);
  });

  it("gives each shard its CPU, its share of the window's publications and its rooms", () => {
    const start = [sample(0, 100, 10), sample(0, 200, 0), sample(0, 300, 5, 4)];
    const end = [sample(2_000, 300, 410), sample(2_000, 250, 300), sample(2_000, 400, 305, 4)];

    const metrics = shardMetrics(start, end, [4, 3, 3]);

    expect(metrics).toEqual({
      redisCpuPercentShard1: 10,
      redisCpuPercentShard2: 2.5,
      redisCpuPercentShard3: 5,
      publishesPerSecondShard1: 200,
      publishesPerSecondShard2: 150,
      publishesPerSecondShard3: 150,
      publishShareShard1: 0.4,
      publishShareShard2: 0.3,
      publishShareShard3: 0.3,
      roomsShard1: 4,
      roomsShard2: 3,
      roomsShard3: 3,
      busPublishes: 0,
    });
  });
});

/** A real cluster: what the bench reads per master follows where each room's slot lives. */
describeWithRedisCluster('ShardReader on a 3-master cluster', () => {
  let cluster: RedisCluster;
  let reader: ShardReader;
  let masters: string[];
  const rooms = ['f-r0', 'f-r1', 'f-r2', 'f-r3', 'f-r4', 'f-r5'];

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3 });
    masters = cluster.addresses.slice(0, 3);
    reader = await ShardReader.open(masters, true);
  });

  afterAll(async () => {
    reader?.close();
    await cluster?.stop();
  });

  /** Runs a script publishing to room `roomId`'s channel on the master that owns it. */
  const publishFromScript = async (roomId: string, command: string): Promise<void> => {
    const owner = await cluster.masterOf(`{${roomId}}`);
    const client = new Redis(Number(owner.split(':')[1]), '127.0.0.1');
    try {
      const script = `return redis.call('${command}', KEYS[1], ARGV[1])`;
      await client.eval(script, 1, `bench:{${roomId}}:ch`, 'frame');
    } finally {
      client.disconnect();
    }
  };

  it("counts each room among the shards that own the room's slot", async () => {
    const counts = await reader.roomsPerShard(rooms);

    const expected = masters.map(() => 0);
    for (const room of rooms) expected[masters.indexOf(await cluster.masterOf(`{${room}}`))] += 1;
    expect(counts).toEqual(expected);
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(rooms.length);
  });

  it('counts an SPUBLISH of a script on its shard alone, relayed to no other node', async () => {
    const shard = masters.indexOf(await cluster.masterOf('{f-r0}'));
    const before = await reader.read();

    for (let i = 0; i < 5; i++) await publishFromScript('f-r0', 'SPUBLISH');

    const after = await reader.read();
    const metrics = shardMetrics(before, after, []);
    expect(metrics[`publishShareShard${shard + 1}`]).toBe(1);
    expect(after[shard].publishes - before[shard].publishes).toBe(5);
    expect(metrics.busPublishes).toBe(0);
    expect(after.every((s, i) => s.cpuMs >= before[i].cpuMs && s.atMs > before[i].atMs)).toBe(true);
  });

  it('sees a PUBLISH on a cluster relayed over the bus to every other node', async () => {
    const before = await reader.read();

    await publishFromScript('f-r1', 'PUBLISH');

    const after = await reader.read();
    expect(shardMetrics(before, after, []).busPublishes).toBe(masters.length - 1);
  });
});
