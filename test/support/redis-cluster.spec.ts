import Redis, { Cluster } from 'ioredis';
import { eventually } from './eventually';
import { RedisCluster, describeWithRedisCluster } from './redis-cluster';

/** The test cluster itself: formed from real processes, keys spread over its masters, failover. */
describeWithRedisCluster('RedisCluster (test support)', () => {
  let cluster: RedisCluster | undefined;
  let client: Cluster | undefined;

  afterEach(async () => {
    client?.disconnect();
    client = undefined;
    await cluster?.stop();
    cluster = undefined;
  });

  const connect = (running: RedisCluster): Cluster => {
    const seeds = running.addresses.map((address) => {
      const [host, port] = address.split(':');
      return { host, port: Number(port) };
    });
    client = new Cluster(seeds, { clusterRetryStrategy: () => 100 });
    client.on('error', () => undefined);
    return client;
  };

  it('forms three masters that each own a share of the keys', async () => {
    cluster = await RedisCluster.start();
    const redis = connect(cluster);
    for (let i = 0; i < 60; i++) await redis.set(`key:${i}`, String(i));
    const owners = new Set<string>();
    for (let i = 0; i < 60; i++) owners.add(await cluster.masterOf(`key:${i}`));
    expect(owners.size).toBe(3);
    expect(await redis.get('key:42')).toBe('42');
    // A hash tag keeps keys in one slot, as every multi-key script needs.
    expect(await cluster.masterOf('{room:1}:meta')).toBe(await cluster.masterOf('{room:1}:hist'));
  });

  it('promotes a replica when a master is killed, with what the replica had', async () => {
    cluster = await RedisCluster.start({ replicas: 1, nodeTimeoutMs: 1_000 });
    const redis = connect(cluster);
    await redis.set('{failover}:k', 'v');
    const master = await cluster.masterOf('{failover}:k');
    // Acknowledged by the replica before the master dies.
    const direct = new Redis(Number(master.split(':')[1]), '127.0.0.1');
    expect(await direct.call('WAIT', '1', '5000')).toBe(1);
    direct.disconnect();

    await cluster.kill(master);
    const promoted = await eventually(
      'a replica to take over the slot',
      () => cluster?.masterOf('{failover}:k').catch(() => master),
      { done: (owner) => owner !== master, timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(promoted).not.toBe(master);
    await cluster.untilHealthy();
    // The client learns the new owner at its next slot refresh (a MOVED, or its retry).
    const read = () => redis.get('{failover}:k').catch((error: Error) => error.message);
    expect(
      await eventually('the key read from the promoted replica', read, {
        done: (v) => v === 'v',
        timeoutMs: 10_000,
      }),
    ).toBe('v');
  }, 60_000);
});
