import Redis from 'ioredis';
import { frames } from '../src/protocol/chat.protocol';
import { configWith } from '../src/config/load-config';
import { ADD_SCRIPT, HEARTBEAT_SCRIPT } from '../src/redis/membership.lua';
import { RedisClients } from '../src/redis/redis-clients';
import { RedisRoomBroker } from '../src/redis/redis-room-broker';
import { RedisRoomStore } from '../src/redis/redis-room-store';
import { RoomBrokerUnderTest, describeRoomBrokerContract } from './contracts/room-broker.contract';
import { RoomHub } from '../src/rooms/room-hub';
import type { ExpiredMember } from '../src/rooms/room-store';
import { describeRoomStoreContract } from './contracts/room-store.contract';
import { eventually } from './support/eventually';
import { RecordingSocket, recordedConnection } from './support/recording-socket';
import { RedisServer, describeWithRedis } from './support/redis-server';

/*
 * The shared contract suites of the two room ports, run against the Redis implementations on a
 * real redis-server, and what only the Redis implementations promise: several instances sharing
 * one membership and one fan-out. Every store or broker gets a key prefix of its own, so the
 * cases share the server and not their state; after each case, nothing is left under the prefix.
 */

/** Records what the broker writes to a Connection's socket. */

const endsWith = (socket: RecordingSocket, frame: object): boolean =>
  JSON.stringify(socket.sent.at(-1)) === JSON.stringify(frame);

let recorded = 0;
const recordedMember = (): ReturnType<typeof recordedConnection> =>
  recordedConnection(`user${++recorded}`);

describeWithRedis('Redis room ports', () => {
  let server: RedisServer;
  let admin: Redis;
  let prefixes = 0;

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.quit();
    await server?.stop();
  });

  const uniquePrefix = (): string => `contract-${process.pid}-${++prefixes}:`;

  async function clientsFor(prefix: string, overrides = {}): Promise<RedisClients> {
    const clients = new RedisClients(
      configWith({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix, ...overrides }),
    );
    await clients.connect();
    return clients;
  }

  /** A store as Nest builds one: clients connected, then the store, then its init hook. */
  async function storeFor(prefix: string, overrides = {}): Promise<RedisRoomStore> {
    const clients = await clientsFor(prefix, overrides);
    const store = new RedisRoomStore(
      clients,
      configWith({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix, ...overrides }),
      new RedisRoomBroker(clients, new RoomHub()),
    );
    await store.onModuleInit();
    return store;
  }

  /**
   * Error replies Redis sent so far, but NOSCRIPT (ioredis answers it by loading the script).
   * Read after a client connected: ioredis' CLIENT SETINFO is refused by Redis before 7.2.
   */
  async function errorReplies(): Promise<number> {
    const info = await admin.info('errorstats');
    let total = 0;
    for (const [, name, count] of info.matchAll(/^errorstat_(\w+):count=(\d+)/gm)) {
      if (name !== 'NOSCRIPT') total += Number(count);
    }
    return total;
  }

  const keysUnder = (prefix: string): Promise<string[]> => admin.keys(`${prefix}*`);
  const channelsUnder = (prefix: string): Promise<unknown[]> =>
    admin.pubsub('CHANNELS', `${prefix}*`);

  describe('RoomStore', () => {
    const prefixOf = new Map<RedisRoomStore, { prefix: string; errors: number }>();

    // The store falls back to its local view when a Redis call fails: a script error would pass
    // the contract unnoticed, so each case also checks that Redis answered no command with one.
    describeRoomStoreContract(
      'redis',
      async () => {
        const prefix = uniquePrefix();
        const store = await storeFor(prefix);
        const errors = await errorReplies();
        prefixOf.set(store, { prefix, errors });
        return store;
      },
      async (store) => {
        const redisStore = store as RedisRoomStore;
        const { prefix, errors } = prefixOf.get(redisStore) ?? { prefix: '?', errors: 0 };
        prefixOf.delete(redisStore);
        await redisStore.onApplicationShutdown();
        expect(await errorReplies()).toBe(errors);
        expect(await keysUnder(prefix)).toEqual([]);
      },
    );
  });

  describe('RoomStore across instances', () => {
    let prefix: string;
    let stores: RedisRoomStore[];

    beforeEach(() => {
      prefix = uniquePrefix();
      stores = [];
    });

    afterEach(async () => {
      for (const store of stores) await store.onApplicationShutdown();
    });

    async function instance(overrides = {}): Promise<RedisRoomStore> {
      const store = await storeFor(prefix, overrides);
      stores.push(store);
      return store;
    }

    it('counts a user once across instances: new on the first, gone with the last', async () => {
      const [a, b] = [await instance(), await instance()];
      // The same connection id on two instances is two connections.
      const ref = { userId: 'alice', connectionId: 'c1' };
      expect(await a.add('lobby', ref)).toEqual({ firstOfUser: true });
      expect(await b.add('lobby', ref)).toEqual({ firstOfUser: false });
      expect(await b.add('lobby', { userId: 'bob', connectionId: 'c2' })).toEqual({
        firstOfUser: true,
      });
      for (const store of [a, b]) {
        expect(await store.members('lobby')).toEqual([
          { userId: 'alice', connections: 2, since: expect.any(Date) },
          { userId: 'bob', connections: 1, since: expect.any(Date) },
        ]);
        expect(await store.roomCount()).toBe(1);
      }
      expect(await b.remove('lobby', ref)).toEqual({ lastOfUser: false, roomDeleted: false });
      expect(await b.remove('lobby', ref)).toEqual({ lastOfUser: false, roomDeleted: false });
      expect(await a.remove('lobby', { userId: 'bob', connectionId: 'c2' })).toEqual({
        lastOfUser: false,
        roomDeleted: false,
      });
      expect(await a.remove('lobby', ref)).toEqual({ lastOfUser: true, roomDeleted: false });
      expect(await b.remove('lobby', { userId: 'bob', connectionId: 'c2' })).toEqual({
        lastOfUser: true,
        roomDeleted: true,
      });
      expect(await a.roomCount()).toBe(0);
      // Only the heartbeats of the two live instances remain.
      expect(await keysUnder(prefix)).toEqual([`${prefix}instances`]);
    });

    it('removes a stopped instance’s members on its way out and tells its own listeners', async () => {
      const [a, b] = [await instance(), await instance()];
      const heardByA: ExpiredMember[] = [];
      const heardByB: ExpiredMember[] = [];
      a.onExpired((left) => heardByA.push(...left));
      b.onExpired((left) => heardByB.push(...left));
      await a.add('lobby', { userId: 'alice', connectionId: 'a1' });
      await a.add('lobby', { userId: 'bob', connectionId: 'a2' });
      await b.add('lobby', { userId: 'alice', connectionId: 'b1' });
      stores.splice(stores.indexOf(a), 1);
      await a.onApplicationShutdown();
      expect(heardByA).toEqual([{ roomId: 'lobby', userId: 'bob' }]);
      expect(heardByB).toEqual([]);
      expect(await b.members('lobby')).toEqual([
        { userId: 'alice', connections: 1, since: expect.any(Date) },
      ]);
    });

    it('expires the members of an instance that went silent, reporting each user once', async () => {
      const survivor = await instance({ PRESENCE_TTL_MS: 300 });
      const heard: ExpiredMember[] = [];
      survivor.onExpired((left) => heard.push(...left));
      // An instance that registered, heartbeat once and died (kill -9): the same scripts the
      // store runs, under an instance id whose heartbeat never comes again.
      const ghost = 'ghost-instance';
      await admin.eval(HEARTBEAT_SCRIPT, 0, prefix, ghost);
      for (const [roomId, connectionId, userId] of [
        ['lobby', 'g1', 'alice'],
        ['lobby', 'g2', 'bob'],
        ['lobby', 'g3', 'bob'],
        ['kitchen', 'g4', 'carol'],
      ]) {
        await admin.eval(ADD_SCRIPT, 0, prefix, ghost, roomId, connectionId, userId);
      }
      await survivor.add('lobby', { userId: 'alice', connectionId: 's1' });
      await eventually('the silent instance to be reaped', () => heard.length > 0);
      expect(await admin.zscore(`${prefix}instances`, ghost)).toBeNull();
      expect(heard).toHaveLength(2);
      expect(heard).toEqual(
        expect.arrayContaining([
          { roomId: 'lobby', userId: 'bob' },
          { roomId: 'kitchen', userId: 'carol' },
        ]),
      );
      expect(await survivor.members('lobby')).toEqual([
        { userId: 'alice', connections: 1, since: expect.any(Date) },
      ]);
      expect(await survivor.members('kitchen')).toEqual([]);
      expect(await survivor.roomCount()).toBe(1);
      expect(await keysUnder(`${prefix}instance:${ghost}`)).toEqual([]);
    });
  });

  describe('RoomBroker', () => {
    interface RedisBrokerUnderTest extends RoomBrokerUnderTest {
      clients: RedisClients;
      prefix: string;
    }

    describeRoomBrokerContract(
      'redis',
      async (): Promise<RedisBrokerUnderTest> => {
        const prefix = uniquePrefix();
        const clients = await clientsFor(prefix);
        const hub = new RoomHub();
        const broker = new RedisRoomBroker(clients, hub);
        broker.onModuleInit();
        return { broker, hub, clients, prefix };
      },
      async ({ clients, prefix }) => {
        // Every subscription was released: the instance holds no channel any more.
        expect(await channelsUnder(prefix)).toEqual([]);
        await clients.close();
      },
    );
  });

  describe('RoomBroker across instances', () => {
    let prefix: string;
    let opened: RedisClients[];

    beforeEach(() => {
      prefix = uniquePrefix();
      opened = [];
    });

    afterEach(async () => {
      for (const clients of opened) await clients.close();
    });

    async function instance(): Promise<{
      broker: RedisRoomBroker;
      hub: RoomHub;
      clients: RedisClients;
    }> {
      const clients = await clientsFor(prefix);
      opened.push(clients);
      const hub = new RoomHub();
      const broker = new RedisRoomBroker(clients, hub);
      broker.onModuleInit();
      return { broker, hub, clients };
    }

    const chat = (roomId: string, content: string) =>
      frames.chatMessage('sender', roomId, content, new Date('2024-01-02T03:04:05.678Z'));

    it('delivers a frame published on one instance to the room’s connections on all of them', async () => {
      const [a, b] = [await instance(), await instance()];
      const onA = recordedMember();
      const onB = [recordedMember(), recordedMember()];
      await a.broker.subscribe('lobby');
      a.hub.add('lobby', onA.connection);
      for (const { connection } of onB) {
        await b.broker.subscribe('lobby');
        b.hub.add('lobby', connection);
      }
      const frame = frames.userJoined('bob', 'lobby');
      await b.broker.publish('lobby', frame, onB[0].connection.userId);
      const end = chat('lobby', 'marker');
      await a.broker.publish('lobby', end);
      await eventually('the marker on both instances', () =>
        [onA, ...onB].every(({ socket }) => endsWith(socket, end)),
      );
      expect(onA.socket.sent).toEqual([frame, end]);
      expect(onB[0].socket.sent).toEqual([end]);
      expect(onB[1].socket.sent).toEqual([frame, end]);
    });

    it('subscribes an instance only to the rooms it has local members in', async () => {
      const [a, b] = [await instance(), await instance()];
      await a.broker.subscribe('red');
      await a.broker.subscribe('red');
      await b.broker.subscribe('blue');
      const numsub = async (roomId: string) =>
        (await admin.pubsub('NUMSUB', `${prefix}room:${roomId}`))[1];
      expect([await numsub('red'), await numsub('blue')]).toEqual([1, 1]);
      expect([a.broker.subscribedRooms, b.broker.subscribedRooms]).toEqual([1, 1]);
      await b.broker.subscribe('red');
      expect(await numsub('red')).toBe(2);
      await a.broker.unsubscribe('red');
      expect(await numsub('red')).toBe(2);
      await a.broker.unsubscribe('red');
      expect(await numsub('red')).toBe(1);
      expect(a.broker.subscribedRooms).toBe(0);
      await b.broker.unsubscribe('red');
      await b.broker.unsubscribe('blue');
      expect(await channelsUnder(prefix)).toEqual([]);
    });

    it('receives a room once any subscribe of it resolved, even while an earlier one is still on its way to Redis', async () => {
      const [a, b] = [await instance(), await instance()];
      // Redis answers the first SUBSCRIBE slowly (a remote Redis, a busy link): it is held back
      // until a moment after the second subscribe of the room was called.
      const subscriber = a.clients.subscriber as unknown as {
        subscribe: (...channels: string[]) => Promise<unknown>;
      };
      const original = subscriber.subscribe.bind(subscriber);
      let acknowledged = false;
      subscriber.subscribe = async (...channels: string[]) => {
        subscriber.subscribe = original;
        await new Promise((resolve) => setTimeout(resolve, 100));
        const result = await original(...channels);
        acknowledged = true;
        return result;
      };
      const first = a.broker.subscribe('lobby');
      await a.broker.subscribe('lobby');
      const subscribedWhenResolved = acknowledged;
      const { connection, socket } = recordedMember();
      a.hub.add('lobby', connection);
      const frame = chat('lobby', 'right after the second join');
      await b.broker.publish('lobby', frame);
      await first;
      const end = chat('lobby', 'marker');
      await b.broker.publish('lobby', end);
      await eventually('the marker on A', () => endsWith(socket, end));
      expect({ subscribedWhenResolved, received: socket.sent }).toEqual({
        subscribedWhenResolved: true,
        received: [frame, end],
      });
    });

    it('stays subscribed when a room’s last member leaves as another enters', async () => {
      const [a, b] = [await instance(), await instance()];
      await a.broker.subscribe('lobby');
      await Promise.all([a.broker.unsubscribe('lobby'), a.broker.subscribe('lobby')]);
      const { connection, socket } = recordedMember();
      a.hub.add('lobby', connection);
      const frame = chat('lobby', 'still subscribed');
      await b.broker.publish('lobby', frame);
      await eventually('the frame on A', () => socket.sent.length > 0);
      expect(socket.sent).toEqual([frame]);
      await a.broker.unsubscribe('lobby');
    });
  });
});
