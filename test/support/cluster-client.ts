import { Cluster } from 'ioredis';

/**
 * An ioredis Cluster client on REDIS_CLUSTER_NODES-style seeds (`host:port,…`), as a backend or
 * a test reads the cluster with: it follows redirections and a failover (retrying meanwhile).
 */
export function clusterClient(seeds: string): Cluster {
  const nodes = seeds.split(',').map((seed) => {
    const [host, port] = seed.trim().split(':');
    return { host, port: Number(port) };
  });
  const client = new Cluster(nodes, {
    clusterRetryStrategy: () => 100,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    redisOptions: { maxRetriesPerRequest: 1 },
  });
  client.on('error', () => undefined);
  return client;
}
