import type { AppConfig } from '../../src/config/app-config';
import { BridgeClient } from './bridge-client';
import { BridgeTestMethodsModule } from './bridge-methods';
import type { RecordingLogger } from './recording-logger';
import { ClusterOptions, RedisCluster } from './redis-cluster';
import { RedisServer } from './redis-server';
import { RunningApp, startApp } from './test-app';

export interface BridgeApps {
  /** The suite's redis-server (started before its first test); fails on a cluster. */
  readonly redis: RedisServer;
  /** The suite's Redis Cluster (with `{ cluster }`); fails on one redis-server. */
  readonly cluster: RedisCluster;
  /**
   * Settings of a test's own: Redis (REDIS_URL, or REDIS_CLUSTER_NODES on a cluster), a key
   * prefix and request / dead-letter streams (hash-tagged on a cluster, as it requires).
   */
  setting(overrides?: Partial<AppConfig>): Partial<AppConfig>;
  /** An instance with the bridge's test methods, closed after the test. */
  instance(settings: Partial<AppConfig>, logger?: RecordingLogger): Promise<RunningApp>;
  /** A backend writing to the settings' stream and reading replies, closed after the test. */
  clientOf(settings: Partial<AppConfig>): BridgeClient;
  /** Closes the test's instances now (before it stops a Redis of its own they use). */
  closeInstances(): Promise<void>;
}

export interface BridgeAppsOptions {
  /** A Redis Cluster of these options for the suite instead of one redis-server. */
  cluster?: ClusterOptions;
}

let suites = 0;

/**
 * The fixture of the bridge suites, registered in the calling `describe`: one redis-server (or
 * one Redis Cluster) for the suite, and per test its own names, its instances and its backend
 * clients, closed after it (a redis-server a test stalled is resumed first).
 */
export function useBridgeApps(label: string, options: BridgeAppsOptions = {}): BridgeApps {
  let redis: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  const running: RunningApp[] = [];
  const clients: BridgeClient[] = [];
  const server = (): RedisServer => {
    if (!redis) throw new Error('the suite’s redis-server is not started (or it uses a cluster)');
    return redis;
  };
  const ownCluster = (): RedisCluster => {
    if (!cluster) throw new Error('the suite’s cluster is not started (or it uses one Redis)');
    return cluster;
  };

  beforeAll(async () => {
    if (options.cluster) cluster = await RedisCluster.start(options.cluster);
    else redis = await RedisServer.start();
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
    await cluster?.stop();
  });
  const closeInstances = async (): Promise<void> => {
    await Promise.all(running.splice(0).map((app) => app.close()));
  };
  afterEach(async () => {
    redis?.resume();
    await closeInstances();
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  return {
    get redis() {
      return server();
    },
    get cluster() {
      return ownCluster();
    },
    setting(overrides = {}) {
      suites += 1;
      const name = `${label}-${process.pid}-${suites}`;
      const where = cluster
        ? {
            REDIS_CLUSTER_NODES: cluster.seeds,
            RPC_REQUEST_STREAM: `{${name}}:requests`,
            RPC_DEAD_LETTER_STREAM: `{${name}}:requests:dlq`,
          }
        : {
            REDIS_URL: server().url,
            RPC_REQUEST_STREAM: `${name}-requests`,
            RPC_DEAD_LETTER_STREAM: `${name}-requests:dlq`,
          };
      return { ...where, REDIS_KEY_PREFIX: `${name}:`, ...overrides };
    },
    async instance(settings, logger) {
      const app = await startApp(settings, { imports: [BridgeTestMethodsModule], logger });
      running.push(app);
      return app;
    },
    clientOf(settings) {
      const client = new BridgeClient(
        cluster ? { cluster: cluster.seeds } : server().url,
        settings.RPC_REQUEST_STREAM ?? 'stream:requests',
        settings.RPC_CONSUMER_GROUP ?? 'rpc_group',
        settings.RPC_DEAD_LETTER_STREAM,
      );
      clients.push(client);
      return client;
    },
    closeInstances,
  };
}
