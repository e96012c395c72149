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

/**
 * Bridge stream names a test app on a cluster gets unless it names its own: a cluster requires
 * RPC_REQUEST_STREAM and RPC_DEAD_LETTER_STREAM to carry one hash tag.
 */
export function clusterStreamDefaults(settings: {
  REDIS_CLUSTER_NODES?: unknown;
}): { RPC_REQUEST_STREAM: string; RPC_DEAD_LETTER_STREAM: string } | Record<string, never> {
  if (!settings.REDIS_CLUSTER_NODES) return {};
  return { RPC_REQUEST_STREAM: '{rpc}:requests', RPC_DEAD_LETTER_STREAM: '{rpc}:requests:dlq' };
}
