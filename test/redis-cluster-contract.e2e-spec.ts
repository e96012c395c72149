import Redis, { Cluster } from 'ioredis';
import { configWith } from '../src/config/load-config';
import { clusterStreamDefaults } from './support/cluster-client';
import type { AppConfig } from '../src/config/app-config';
import { RedisConnections } from '../src/redis/redis-connections';
import { RedisRoomBroker } from '../src/redis/redis-room-broker';
import { RedisRoomStore } from '../src/redis/redis-room-store';
import {
  CONTRACT_HISTORY_SIZE,
  RoomBrokerUnderTest,
  describeRoomBrokerContract,
} from './contracts/room-broker.contract';
import { describeRoomStoreContract } from './contracts/room-store.contract';
import { eventually } from './support/eventually';
import { RedisCluster, describeWithRedisCluster } from './support/redis-cluster';
import { RedisServer, describeWithRedis } from './support/redis-server';

/*
 * The contract suites of the Redis room ports on a 3-master Redis Cluster, with sharded pub/sub
 * (the default on a cluster) and without; and the broker's sharded pub/sub on one Redis 7. Each
 * case has a key prefix of its own; after each, no channel of the prefix is subscribed.
 */

/** Short, so that the contract's window passes quickly; long enough for two publishes in a row. */
const CONTRACT_IDEMPOTENCY_WINDOW_MS = 1_000;

interface RedisBrokerUnderTest extends RoomBrokerUnderTest {
  redis: RedisConnections;
  prefix: string;
}

/** What the suites ask of the Redis they run on, a cluster or one server. */
interface Target {
  config: Partial<AppConfig>;
  /** The masters (one server: itself). */
  masters(): Redis[];
}

let prefixes = 0;
const uniquePrefix = (): string => `cluster-contract-${process.pid}-${++prefixes}:`;

async function keysOf(target: Target, pattern: string): Promise<string[]> {
  const keys = await Promise.all(target.masters().map((node) => node.keys(pattern)));
  return keys.flat();
}

/** Channels of the prefix still subscribed, plain or sharded, on any master. */
async function channelsOf(target: Target, prefix: string): Promise<unknown[]> {
  const channels = await Promise.all(
    target
      .masters()
      .map(async (node) => [
        ...(await node.pubsub('CHANNELS', `${prefix}*`)),
        ...((await node.call('PUBSUB', 'SHARDCHANNELS', `${prefix}*`)) as unknown[]),
      ]),
  );
  return channels.flat();
}

function describeBrokerOn(
  name: string,
  target: () => Target,
  overrides: { REDIS_SHARDED_PUBSUB?: boolean } = {},
  lateRelays = false,
): void {
  describeRoomBrokerContract(
    name,
    async (): Promise<RedisBrokerUnderTest> => {
      const prefix = uniquePrefix();
      const redis = new RedisConnections(
        configWith({
          ...target().config,
          ...overrides,
          REDIS_KEY_PREFIX: prefix,
          HISTORY_SIZE: CONTRACT_HISTORY_SIZE,
        }),
      );
      await redis.connect();
      const broker = new RedisRoomBroker(redis, CONTRACT_IDEMPOTENCY_WINDOW_MS);
      broker.onModuleInit();
      const passIdempotencyWindow = async (): Promise<void> => {
        await eventually(
          'the idempotency keys expire',
          async () => (await keysOf(target(), `${prefix}*:idem:*`)).length === 0,
        );
      };
      return { broker, redis, prefix, passIdempotencyWindow };
    },
    async ({ redis, prefix, broker }) => {
      expect(await channelsOf(target(), prefix)).toEqual([]);
      (broker as RedisRoomBroker).onModuleDestroy();
      await redis.onApplicationShutdown();
    },
    { lateRelays },
  );
}

describeWithRedisCluster('Redis room ports on a 3-master cluster', () => {
  let cluster: RedisCluster;
  let admin: Cluster;
  const target = (): Target => ({
    config: {
      REDIS_CLUSTER_NODES: cluster.seeds,
      ...clusterStreamDefaults({ REDIS_CLUSTER_NODES: cluster.seeds }),
    },
    masters: () => admin.nodes('master'),
  });

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3 });
    admin = new Cluster(
      cluster.addresses.map((address) => address),
      { lazyConnect: true },
    );
    await admin.connect();
  }, 60_000);

  afterAll(async () => {
    await admin?.quit();
    await cluster?.stop();
  });

  describe('RoomBroker, sharded pub/sub', () => {
    describeBrokerOn('redis cluster, sharded', target);

    it('uses sharded channels: SSUBSCRIBE on the shard of the room, nothing plain', async () => {
      const prefix = uniquePrefix();
      const redis = new RedisConnections(
        configWith({ ...target().config, REDIS_KEY_PREFIX: prefix }),
      );
      await redis.connect();
      const broker = new RedisRoomBroker(redis);
      broker.onModuleInit();
      try {
        await broker.subscribe('lobby');
        const channel = `${prefix}{lobby}:ch`;
        const owner = await cluster.masterOf(channel);
        for (const node of admin.nodes('master')) {
          const address = `${node.options.host}:${node.options.port}`;
          const [, count] = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
          expect({ address, count }).toEqual({ address, count: address === owner ? 1 : 0 });
          expect(await node.pubsub('CHANNELS', `${prefix}*`)).toEqual([]);
        }
      } finally {
        await broker.unsubscribe('lobby');
        broker.onModuleDestroy();
        await redis.onApplicationShutdown();
      }
    });
  });

  describe('RoomBroker, plain pub/sub', () => {
    // The cluster bus relays plain publications after PUBLISH answered (see lateRelays).
    describeBrokerOn(
      'redis cluster, REDIS_SHARDED_PUBSUB=false',
      target,
      { REDIS_SHARDED_PUBSUB: false },
      true,
    );
  });

  // Every membership script touches one room's (or one user's) slot.
  describe('RoomStore', () => {
    const started = new Map<RedisRoomStore, RedisConnections>();
    describeRoomStoreContract(
      'redis cluster',
      async () => {
        const config = configWith({ ...target().config, REDIS_KEY_PREFIX: uniquePrefix() });
        const redis = new RedisConnections(config);
        await redis.connect();
        const broker = new RedisRoomBroker(redis);
        broker.onModuleInit();
        const store = new RedisRoomStore(redis, config, broker);
        store.onModuleInit();
        started.set(store, redis);
        return { store, broker };
      },
      async ({ store, broker }) => {
        const redis = started.get(store);
        started.delete(store);
        broker.onModuleDestroy();
        await redis?.onApplicationShutdown();
      },
    );
  });
});

describeWithRedis('RoomBroker, sharded pub/sub on one Redis 7', () => {
  let server: RedisServer;
  let admin: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.quit();
    await server?.stop();
  });

  describeBrokerOn(
    'redis, REDIS_SHARDED_PUBSUB=true',
    () => ({ config: { REDIS_URL: server.url }, masters: () => [admin] }),
    { REDIS_SHARDED_PUBSUB: true },
  );
});
