import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster: both run every command the server sends. */
export type RedisClient = Redis | Cluster;

/** Where the server's Redis is: one server (REDIS_URL) or a cluster's seed nodes. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'cluster';
      seeds: { host: string; port: number }[];
      username?: string;
      password?: string;
      tls: boolean;
    };

/**
 * REDIS_CLUSTER_NODES (`host:port` or `redis://[user:password@]host:port` seeds, comma-separated)
 * when set, REDIS_URL otherwise. The first credentials a seed carries apply to every node.
 */
export function redisTarget(config: {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES: string;
}): RedisTarget {
  if (config.REDIS_CLUSTER_NODES === '') return { kind: 'single', url: config.REDIS_URL };
  const seeds: { host: string; port: number }[] = [];
  let username: string | undefined;
  let password: string | undefined;
  let tls = false;
  for (const entry of config.REDIS_CLUSTER_NODES.split(',').map((seed) => seed.trim())) {
    const url = new URL(/^rediss?:\/\//.test(entry) ? entry : `redis://${entry}`);
    seeds.push({ host: url.hostname, port: Number(url.port || 6379) });
    if (url.protocol === 'rediss:') tls = true;
    if (password === undefined && url.password !== '') {
      password = decodeURIComponent(url.password);
      username = url.username === '' ? undefined : decodeURIComponent(url.username);
    }
  }
  return { kind: 'cluster', seeds, username, password, tls };
}

/**
 * Opens a client on `target` with `options`. On a cluster they apply to each node's connection;
 * the cluster itself refreshes its slot map on MOVED, retries through a failover for a bounded
 * time, and (`sharded`) keeps one subscriber connection per master for SSUBSCRIBE.
 */
export function createRedisClient(
  target: RedisTarget,
  options: RedisOptions,
  sharded = false,
): RedisClient {
  if (target.kind === 'single') return new Redis(target.url, options);
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    lazyConnect,
    enableOfflineQueue,
    clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) : undefined,
    // A failover takes the cluster's node timeout plus an election: commands wait that long for
    // the new master rather than failing on the first redirection.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2_000,
    shardedSubscribers: sharded,
    redisOptions: {
      ...nodeOptions,
      username: target.username,
      password: target.password,
      ...(target.tls && { tls: {} }),
    },
  };
  const cluster = new Cluster(target.seeds, clusterOptions);
  // ioredis connects a node on its first command and, without an offline queue, refuses the
  // commands that follow while it connects, re-sending them 200 ms later: behind later ones. A
  // master connected as soon as the slot map names it keeps commands in the order they were sent.
  // Not before the cluster is ready: its ready check refuses a node that is connecting.
  const connect = (node: Redis): void => {
    if (cluster.status !== 'ready' || node.options.readOnly || node.status !== 'wait') return;
    node.connect().catch(() => undefined);
  };
  cluster.on('+node', connect);
  cluster.on('ready', () => cluster.nodes('master').forEach(connect));
  return cluster;
}

/** Resolves once every master `cluster` knows is connected, or has failed to, or `timeoutMs`. */
export async function mastersConnected(cluster: Cluster, timeoutMs: number): Promise<void> {
  const waiting = cluster.nodes('master').filter((node) => node.status !== 'ready');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  const settled = waiting.map(
    (node) =>
      new Promise<void>((resolve) => {
        node.once('ready', resolve);
        node.once('end', resolve);
      }),
  );
  await Promise.race([Promise.all(settled), timeout]);
  clearTimeout(timer);
}

/** Whether `client` is a Redis Cluster connection. */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
