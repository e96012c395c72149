import Redis from 'ioredis';
import { configWith } from '../src/config/load-config';
import { RedisConnections } from '../src/redis/redis-connections';
import { RedisKeys } from '../src/redis/redis-keys';
import { RedisRoomBroker } from '../src/redis/redis-room-broker';
import { RedisRoomStore } from '../src/redis/redis-room-store';
import { defineScripts, runScript } from '../src/redis/redis-scripts';
import type { Publication } from '../src/rooms/publication';
import type { ExpiredMember } from '../src/rooms/room-store';
import {
  CONTRACT_HISTORY_SIZE,
  RoomBrokerUnderTest,
  describeRoomBrokerContract,
} from './contracts/room-broker.contract';
import { describeRoomStoreContract } from './contracts/room-store.contract';
import { eventually } from './support/eventually';
import { RedisServer, describeWithRedis } from './support/redis-server';

/*
 * The shared contract suites of the two room ports, run against the Redis implementations on a
 * real redis-server, and what only the Redis implementations promise: several instances sharing
 * one membership and one positioned stream per room, and the races of a real network. Every
 * instance gets a key prefix of its own, so the cases share the server and not their state;
 * after each case, nothing but room positions (which expire) is left under the prefix.
 */

/** One instance as Nest builds it: connections, broker, store, init hooks. */
interface Instance {
  redis: RedisConnections;
  broker: RedisRoomBroker;
  store: RedisRoomStore;
  /** Every publication this instance's broker delivered. */
  received: Publication[];
  stop(): Promise<void>;
}

/** Short, so that the contract's window passes quickly; long enough for two publishes in a row. */
const CONTRACT_IDEMPOTENCY_WINDOW_MS = 1_000;

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

  async function instanceFor(prefix: string, overrides = {}): Promise<Instance> {
    const config = configWith({ REDIS_URL: server.url, REDIS_KEY_PREFIX: prefix, ...overrides });
    const redis = new RedisConnections(config);
    await redis.connect();
    const broker = new RedisRoomBroker(redis);
    broker.onModuleInit();
    const store = new RedisRoomStore(redis, config, broker);
    store.onModuleInit();
    const received: Publication[] = [];
    broker.onPublication((publication) => received.push(publication));
    return { redis, broker, store, received, stop: () => redis.onApplicationShutdown() };
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

  /** Keys under the prefix but room positions and histories, which outlive their rooms (with a
   * TTL). */
  async function keysUnder(prefix: string): Promise<string[]> {
    const keys = await admin.keys(`${prefix}*`);
    const kept: string[] = [];
    for (const key of keys) {
      if (/:(meta|hist)$/.test(key) && (await admin.pttl(key)) > 0) continue;
      kept.push(key);
    }
    return kept.sort();
  }
  const channelsUnder = (prefix: string): Promise<unknown[]> =>
    admin.pubsub('CHANNELS', `${prefix}*`);

  describe('RoomStore', () => {
    const started = new Map<
      RedisRoomStore,
      { instance: Instance; prefix: string; errors: number }
    >();

    // The store falls back to its local view when a Redis call fails: a script error would pass
    // the contract unnoticed, so each case also checks that Redis answered no command with one.
    describeRoomStoreContract(
      'redis',
      async () => {
        const prefix = uniquePrefix();
        const instance = await instanceFor(prefix);
        const errors = await errorReplies();
        started.set(instance.store, { instance, prefix, errors });
        return { store: instance.store, broker: instance.broker };
      },
      async ({ store }) => {
        const entry = started.get(store);
        if (!entry) return;
        started.delete(entry.instance.store);
        await entry.instance.stop();
        expect(await errorReplies()).toBe(entry.errors);
        expect(await keysUnder(entry.prefix)).toEqual([]);
      },
    );
  });

  describe('RoomStore across instances', () => {
    let prefix: string;
    let keys: RedisKeys;
    let instances: Instance[];

    beforeEach(() => {
      prefix = uniquePrefix();
      keys = new RedisKeys(prefix);
      instances = [];
    });

    afterEach(async () => {
      for (const instance of instances) await instance.stop();
    });

    async function instance(overrides = {}): Promise<Instance> {
      const started = await instanceFor(prefix, overrides);
      instances.push(started);
      return started;
    }

    async function stop(instance: Instance): Promise<void> {
      instances.splice(instances.indexOf(instance), 1);
      await instance.stop();
    }

    const membership = (publications: Publication[], roomId: string): string[] =>
      publications
        .filter((p) => p.roomId === roomId && p.data.kind !== 'frame')
        .map((p) => `${p.data.kind} ${p.data.kind === 'frame' ? '' : p.data.userId}`);

    it('counts a user once across instances: new on the first, gone with the last', async () => {
      const [a, b] = [(await instance()).store, (await instance()).store];
      // The same connection id on two instances is two connections.
      const ref = { userId: 'alice', connectionId: 'c1' };
      expect(await a.add('lobby', ref)).toMatchObject({ firstOfUser: true });
      expect(await b.add('lobby', ref)).toMatchObject({ firstOfUser: false });
      expect(await b.add('lobby', { userId: 'bob', connectionId: 'c2' })).toMatchObject({
        firstOfUser: true,
      });
      for (const store of [a, b]) {
        expect(await store.members('lobby', 100)).toEqual({
          users: [
            { userId: 'alice', connections: 2, since: expect.any(Date) },
            { userId: 'bob', connections: 1, since: expect.any(Date) },
          ],
          count: 2,
        });
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
      // No instance-wide key: an empty room leaves nothing behind.
      expect(await keysUnder(prefix)).toEqual([]);
    });

    it('numbers the membership changes of every instance in one stream per room', async () => {
      const [a, b] = [await instance(), await instance()];
      await a.broker.subscribe('lobby');
      await b.broker.subscribe('lobby');
      await a.store.add('lobby', { userId: 'alice', connectionId: 'a1' });
      await b.store.add('lobby', { userId: 'bob', connectionId: 'b1' });
      await b.broker.publish('lobby', { kind: 'frame', frame: '"hi"' });
      await a.store.remove('lobby', { userId: 'alice', connectionId: 'a1' });
      await eventually(
        'four publications on both instances',
        () => a.received.length === 4 && b.received.length === 4,
      );
      for (const { received } of [a, b]) {
        expect(received.map((p) => p.offset)).toEqual([1, 2, 3, 4]);
        expect(membership(received, 'lobby')).toEqual(['join alice', 'join bob', 'leave alice']);
      }
      expect(a.received).toEqual(b.received);
      await a.broker.unsubscribe('lobby');
      await b.broker.unsubscribe('lobby');
    });

    it('removes a stopped instance’s members on its way out, publishing their leave', async () => {
      const [a, b] = [await instance(), await instance()];
      await b.broker.subscribe('lobby');
      const heardByA: ExpiredMember[] = [];
      a.store.onExpired((left) => heardByA.push(...left));
      await a.store.add('lobby', { userId: 'alice', connectionId: 'a1' });
      await a.store.add('lobby', { userId: 'bob', connectionId: 'a2' });
      await b.store.add('lobby', { userId: 'alice', connectionId: 'b1' });
      await stop(a);
      expect(heardByA).toEqual([{ roomId: 'lobby', userId: 'bob' }]);
      expect((await b.store.members('lobby', 100)).users).toEqual([
        { userId: 'alice', connections: 1, since: expect.any(Date) },
      ]);
      await eventually('bob’s leave', () => membership(b.received, 'lobby').includes('leave bob'));
      expect(membership(b.received, 'lobby')).toEqual(['join alice', 'join bob', 'leave bob']);
      await b.broker.unsubscribe('lobby');
    });

    /** Adds a connection as a ghost instance (its lease runs `leaseMs`, then nobody renews it). */
    async function ghostAdd(ghost: string, leaseMs: number, [roomId, connection, user]: string[]) {
      defineScripts(admin);
      const context = { prefix, ttlMs: 60_000, historySize: 100 };
      const scriptKeys = keys.membership(roomId, ghost);
      const args = [ghost, String(leaseMs), '3000', connection, user];
      return runScript(admin, context, 'chatMemberAdd', scriptKeys, args);
    }

    it('expires the members of an instance whose lease ran out, publishing each user’s leave once', async () => {
      const survivor = await instance({ PRESENCE_TTL_MS: 300 });
      await survivor.broker.subscribe('lobby');
      const heard: ExpiredMember[] = [];
      survivor.store.onExpired((left) => heard.push(...left));
      // An instance that added its connections and died (kill -9): its leases are never renewed.
      const ghost = 'ghost-instance';
      for (const args of [
        ['lobby', 'g1', 'alice'],
        ['lobby', 'g2', 'bob'],
        ['lobby', 'g3', 'bob'],
        ['kitchen', 'g4', 'carol'],
      ]) {
        await ghostAdd(ghost, 100, args);
      }
      await survivor.store.add('lobby', { userId: 'alice', connectionId: 's1' });
      await eventually('the lapsed instance to be expired', () => heard.length > 0);
      expect(heard).toEqual([{ roomId: 'lobby', userId: 'bob' }]);
      // A tombstone: the ghost, if it was only cut off, learns its users were announced as gone.
      expect(Number(await admin.zscore(keys.room('lobby', 'leases'), ghost))).toBeLessThan(0);
      expect(await admin.exists(keys.roomInstance('lobby', ghost))).toBe(0);
      expect(await survivor.store.members('lobby', 100)).toEqual({
        users: [{ userId: 'alice', connections: 1, since: expect.any(Date) }],
        count: 1,
      });
      await eventually('bob’s leave on the survivor', () =>
        membership(survivor.received, 'lobby').includes('leave bob'),
      );
      // The ghost's arrivals, then bob's expiry; alice stays (the survivor holds her too).
      expect(membership(survivor.received, 'lobby')).toEqual([
        'join alice',
        'join bob',
        'leave bob',
      ]);
      // A room nobody alive holds is nobody's to expire: its keys go with their TTL.
      await eventually('the kitchen’s membership keys to expire', async () =>
        (await admin.keys(`${prefix}{kitchen}:*`)).every((key) => /:(meta|hist)$/.test(key)),
      );
      await survivor.broker.unsubscribe('lobby');
    });

    it('announces again the members of an instance expired while it stalled, when it comes back', async () => {
      // A renews its leases every 10 minutes: a stall is simulated by running its lease out.
      const a = await instance({ PRESENCE_TTL_MS: 3_600_000 });
      const survivor = await instance({ PRESENCE_TTL_MS: 300 });
      await survivor.broker.subscribe('lobby');
      await a.store.add('lobby', { userId: 'alice', connectionId: 'a1' });
      await survivor.store.add('lobby', { userId: 'carol', connectionId: 's1' });
      await admin.zadd(keys.room('lobby', 'leases'), 1, a.redis.instanceId);
      await eventually('alice to be expired', () =>
        membership(survivor.received, 'lobby').includes('leave alice'),
      );
      await a.store.add('lobby', { userId: 'bob', connectionId: 'a2' });
      await eventually('alice back', () =>
        membership(survivor.received, 'lobby').includes('join alice', 2),
      );
      expect(membership(survivor.received, 'lobby')).toEqual([
        'join alice',
        'join carol',
        'leave alice',
        'join bob',
        'join alice',
      ]);
      expect((await survivor.store.members('lobby', 100)).count).toBe(3);
      await survivor.broker.unsubscribe('lobby');
    });

    it('leaves no orphan entry behind when an entry no longer matches the room', async () => {
      const a = await instance();
      await a.store.add('lobby', { userId: 'alice', connectionId: 'a1' });
      // Redis lost the room's side of the entry (eviction, a partial restore).
      await admin.del(keys.room('lobby', 'conns'));
      await a.store.remove('lobby', { userId: 'alice', connectionId: 'a1' });
      expect(await admin.smembers(keys.roomInstance('lobby', a.redis.instanceId))).toEqual([]);
      await a.store.add('kitchen', { userId: 'bob', connectionId: 'a2' });
      await admin.del(keys.room('kitchen', 'conns'));
      await a.store.remove('kitchen', { userId: 'bob', connectionId: 'a2' });
      await a.store.resync();
      expect(await admin.smembers(keys.roomInstance('kitchen', a.redis.instanceId))).toEqual([]);
    });

    it('reads presence atomically: a user is never listed half added', async () => {
      const [a, b] = [await instance(), await instance()];
      let stop = false;
      const churn = (async () => {
        for (let i = 0; !stop; i += 1) {
          const ref = { userId: `u${i % 5}`, connectionId: `c${i}` };
          await a.store.add('lobby', ref);
          await a.store.remove('lobby', ref);
        }
      })();
      const seen: Date[] = [];
      for (let i = 0; i < 300; i += 1) {
        for (const member of (await b.store.members('lobby', 100)).users) seen.push(member.since);
      }
      stop = true;
      await churn;
      expect(seen.filter((since) => since.getTime() < Date.UTC(2020, 0, 1))).toEqual([]);
    });

    it('does not forget a change that failed while a resync was on its way', async () => {
      const a = await instance();
      await a.store.add('lobby', { userId: 'alice', connectionId: 'a1' });
      await eventually('the first resync', () => !a.store.needsResync);
      // Redis is busy (a slow script elsewhere): A's resync, sent now, waits behind it. Meanwhile
      // A's subscriber connection drops, so A's next change cannot reach Redis and must be
      // resynced later.
      const busy = admin.duplicate();
      const sleeping = busy.call('DEBUG', 'SLEEP', '0.5');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const resync = a.store.resync();
      a.redis.subscriber.disconnect(true);
      await eventually('A to notice the drop', () => !a.redis.ready);
      await a.store.add('lobby', { userId: 'bob', connectionId: 'a2' });
      await resync;
      await sleeping;
      busy.disconnect();
      expect(a.store.needsResync).toBe(true);
      // …and the next heartbeat brings Redis up to date.
      await eventually(
        'bob in Redis after a resync',
        async () => (await a.store.members('lobby', 100)).count === 2,
      );
    });
  });

  describe('RoomBroker', () => {
    interface RedisBrokerUnderTest extends RoomBrokerUnderTest {
      redis: RedisConnections;
      prefix: string;
    }

    describeRoomBrokerContract(
      'redis',
      async (): Promise<RedisBrokerUnderTest> => {
        const prefix = uniquePrefix();
        const redis = new RedisConnections(
          configWith({
            REDIS_URL: server.url,
            REDIS_KEY_PREFIX: prefix,
            HISTORY_SIZE: CONTRACT_HISTORY_SIZE,
          }),
        );
        await redis.connect();
        const broker = new RedisRoomBroker(redis, CONTRACT_IDEMPOTENCY_WINDOW_MS);
        broker.onModuleInit();
        // The window is short: it passes when Redis has expired every key's record.
        const passIdempotencyWindow = async (): Promise<void> => {
          await eventually(
            'the idempotency keys expire',
            async () => (await admin.keys(`${prefix}*:idem:*`)).length === 0,
          );
        };
        return { broker, redis, prefix, passIdempotencyWindow };
      },
      async ({ redis, prefix }) => {
        // Every subscription was released: the instance holds no channel any more.
        expect(await channelsUnder(prefix)).toEqual([]);
        await redis.onApplicationShutdown();
      },
    );
  });

  describe('RoomBroker across instances', () => {
    let prefix: string;
    let keys: RedisKeys;
    let instances: Instance[];

    beforeEach(() => {
      prefix = uniquePrefix();
      keys = new RedisKeys(prefix);
      instances = [];
    });

    afterEach(async () => {
      for (const instance of instances) await instance.stop();
    });

    async function instance(): Promise<Instance> {
      const started = await instanceFor(prefix);
      instances.push(started);
      return started;
    }

    const frame = (text: string) => ({ kind: 'frame' as const, frame: JSON.stringify(text) });
    const frames = (received: Publication[]): string[] =>
      received.map((p) => (p.data.kind === 'frame' ? (JSON.parse(p.data.frame) as string) : ''));

    it('delivers a publication made on one instance to every instance subscribed, at one position', async () => {
      const [a, b, c] = [await instance(), await instance(), await instance()];
      await a.broker.subscribe('lobby');
      await b.broker.subscribe('lobby');
      const position = await b.broker.publish('lobby', frame('hello'));
      await eventually('both copies', () => a.received.length === 1 && b.received.length === 1);
      const { offset, epoch } = position;
      expect(a.received).toEqual([{ roomId: 'lobby', offset, epoch, data: frame('hello') }]);
      expect(b.received).toEqual(a.received);
      expect(c.received).toEqual([]);
      await a.broker.unsubscribe('lobby');
      await b.broker.unsubscribe('lobby');
    });

    it('never hands out one offset twice when instances publish to a room at once', async () => {
      const [a, b] = [await instance(), await instance()];
      await a.broker.subscribe('lobby');
      const sent = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          (i % 2 === 0 ? a : b).broker.publish('lobby', frame(`m${i}`)),
        ),
      );
      expect(sent.map((p) => p.offset).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      await eventually('100 publications on A', () => a.received.length === 100);
      expect(a.received.map((p) => p.offset)).toEqual(sent.map((_, i) => i + 1));
      await a.broker.unsubscribe('lobby');
    });

    it('subscribes an instance only to the rooms it has local subscribers in', async () => {
      const [a, b] = [await instance(), await instance()];
      await a.broker.subscribe('red');
      await a.broker.subscribe('red');
      await b.broker.subscribe('blue');
      const numsub = async (roomId: string) =>
        (await admin.pubsub('NUMSUB', keys.room(roomId, 'ch')))[1];
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
      const subscriber = a.redis.subscriber as unknown as {
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
      await b.broker.publish('lobby', frame('right after the second subscribe'));
      await first;
      await b.broker.publish('lobby', frame('marker'));
      await eventually('the marker on A', () => frames(a.received).includes('marker'));
      expect({ subscribedWhenResolved, received: frames(a.received) }).toEqual({
        subscribedWhenResolved: true,
        received: ['right after the second subscribe', 'marker'],
      });
      await a.broker.unsubscribe('lobby');
      await a.broker.unsubscribe('lobby');
    });

    it('stays subscribed when a room’s last subscriber leaves as another enters', async () => {
      const [a, b] = [await instance(), await instance()];
      await a.broker.subscribe('lobby');
      await Promise.all([a.broker.unsubscribe('lobby'), a.broker.subscribe('lobby')]);
      await b.broker.publish('lobby', frame('still subscribed'));
      await eventually('the publication on A', () => a.received.length > 0);
      expect(frames(a.received)).toEqual(['still subscribed']);
      await a.broker.unsubscribe('lobby');
    });

    it('receives its own publications right after its subscriber connection came back', async () => {
      const a = await instance();
      await a.broker.subscribe('lobby');
      const subscriberId = await a.redis.subscriber.client('ID');
      // The re-SUBSCRIBE after the reconnect takes a while to reach Redis (a remote Redis, many
      // rooms): held back 100 ms here.
      const subscriber = a.redis.subscriber as unknown as {
        subscribe: (...channels: string[]) => Promise<unknown>;
      };
      const original = subscriber.subscribe.bind(subscriber);
      subscriber.subscribe = async (...channels: string[]) => {
        subscriber.subscribe = original;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return original(...channels);
      };
      // Publish the moment the subscriber connection is back, while its re-SUBSCRIBE is still
      // on its way to Redis.
      const published = new Promise<void>((resolve, reject) =>
        a.redis.subscriber.once('ready', () => {
          a.broker
            .publish('lobby', frame('right after the reconnect'))
            .then(() => resolve(), reject);
        }),
      );
      await admin.call('CLIENT', 'KILL', 'ID', String(subscriberId));
      await published;
      await eventually('A’s own publication', () => a.received.length > 0);
      expect(frames(a.received)).toEqual(['right after the reconnect']);
      await a.broker.unsubscribe('lobby');
    });

    it('keeps deployments apart whose prefixes overlap (chat: and chat:room:x:)', async () => {
      // Under the old layout `<prefix>room:<id>` both were the channel chat:room:x:room:secret.
      const a = await instanceFor('chat:');
      const b = await instanceFor('chat:room:x:');
      instances.push(a, b);
      await a.broker.subscribe('x:room:secret');
      await b.broker.subscribe('secret');
      await b.broker.publish('secret', frame('for b only'));
      await a.broker.publish('x:room:secret', frame('for a only'));
      await eventually(
        'each deployment’s own publication',
        () => a.received.length > 0 && b.received.length > 0,
      );
      expect(frames(a.received)).toEqual(['for a only']);
      expect(frames(b.received)).toEqual(['for b only']);
      expect(a.received[0].offset).toBe(1);
      await a.broker.unsubscribe('x:room:secret');
      await b.broker.unsubscribe('secret');
    });

    it('publishes an idempotency key once across instances, recording it in the room’s slot with the window as TTL', async () => {
      const [a, b] = [await instance(), await instance()];
      await a.broker.subscribe('lobby');
      const first = await a.broker.publish('lobby', frame('once'), { idempotencyKey: 'b/c-1' });
      const again = await b.broker.publish('lobby', frame('twice'), { idempotencyKey: 'b/c-1' });
      await b.broker.publish('lobby', frame('marker'));
      await eventually('the marker', () => a.received.length === 2);
      expect(frames(a.received)).toEqual(['once', 'marker']);
      expect(again).toEqual({
        offset: first.offset,
        epoch: first.epoch,
        duplicate: true,
        original: frame('once'),
      });
      const record = keys.idempotency('lobby', 'b/c-1');
      expect(record).toBe(`${prefix}{lobby}:idem:b/c-1`);
      expect(await admin.get(record)).toBe(`${first.offset}:${first.epoch}`);
      const ttl = await admin.pttl(record);
      expect(ttl > 0 && ttl <= 300_000).toBe(true);
      await a.broker.unsubscribe('lobby');
    });

    it('answers a publish Redis refuses with an error, delivering nothing', async () => {
      const a = await instance();
      await a.broker.subscribe('lobby');
      await admin.set(keys.room('lobby', 'meta'), 'not a hash');
      await expect(a.broker.publish('lobby', frame('refused'))).rejects.toThrow(
        /publish to lobby failed/,
      );
      await admin.del(keys.room('lobby', 'meta'));
      await a.broker.publish('lobby', frame('accepted'));
      await eventually('the accepted publication', () => a.received.length > 0);
      expect(frames(a.received)).toEqual(['accepted']);
      await a.broker.unsubscribe('lobby');
    });
  });

  describe('history bytes per room', () => {
    const BUDGET = 262_144;
    const TEN_KB = 'x'.repeat(10_000);
    let keys: RedisKeys;
    let a: Instance;

    beforeEach(async () => {
      const prefix = uniquePrefix();
      keys = new RedisKeys(prefix);
      a = await instanceFor(prefix, { HISTORY_SIZE: 100, HISTORY_ROOM_MAX_BYTES: BUDGET });
    });

    afterEach(() => a.stop());

    const frame = (text: string) => ({ kind: 'frame' as const, frame: JSON.stringify(text) });
    /** A stream entry as the publish script stores a frame. */
    const stored = (text: string): string => `f${JSON.stringify(text)}`;
    const publishMany = async (count: number, text = TEN_KB): Promise<void> => {
      for (let i = 0; i < count; i++) await a.broker.publish('big', frame(text));
    };

    /** The room's stream as it is, and the count its meta hash keeps of it. */
    async function history(): Promise<{ length: number; bytes: number; counted: number }> {
      const entries = await admin.xrange(keys.room('big', 'hist'), '-', '+');
      const bytes = entries.reduce((sum, [, [, d]]) => sum + Buffer.byteLength(d) + 64, 0);
      const counted = Number(await admin.hget(keys.room('big', 'meta'), 'b'));
      return { length: entries.length, bytes, counted };
    }

    /** What an instance that keeps no count (an earlier version) writes: numbered, trimmed by count only. */
    async function writeUncounted(count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const offset = await admin.hincrby(keys.room('big', 'meta'), 's', 1);
        await admin.xadd(
          keys.room('big', 'hist'),
          'MAXLEN',
          '~',
          '100',
          `${offset}-0`,
          'd',
          stored(TEN_KB),
        );
      }
    }

    it('counts a room that held history before the count from its stream, and keeps it within the budget', async () => {
      await admin.hset(keys.room('big', 'meta'), 'e', 'before', 's', '0');
      await writeUncounted(50);
      await publishMany(1);
      expect(await history()).toEqual({ length: 26, bytes: 26 * 10_067, counted: 26 * 10_067 });
      await publishMany(499);
      const after = await history();
      expect(after.counted).toBe(after.bytes);
      expect(after.bytes).toBeLessThanOrEqual(BUDGET);
      expect(after.length).toBe(26);
    });

    it('does not trim a room to its newest entry on a count higher than the stream holds', async () => {
      await publishMany(10, 'y'.repeat(1_000));
      await admin.hset(keys.room('big', 'meta'), 'b', String(10 * BUDGET));
      await publishMany(1, 'y'.repeat(1_000));
      expect(await history()).toEqual({ length: 11, bytes: 11 * 1_067, counted: 11 * 1_067 });
    });

    it('is exact again within HISTORY_SIZE publications after writers that kept no count', async () => {
      await publishMany(10);
      await writeUncounted(30);
      await publishMany(60);
      const { bytes, counted, length } = await history();
      expect({ counted, length }).toEqual({ counted: bytes, length: 26 });
    });

    it('counts anew a stream that is gone while the room’s position stays, or left after the position went', async () => {
      await publishMany(5);
      await admin.del(keys.room('big', 'hist'));
      await publishMany(1, 'z');
      expect(await history()).toEqual({ length: 1, bytes: 68, counted: 68 });
      await publishMany(5);
      await admin.del(keys.room('big', 'meta'));
      await publishMany(1, 'z');
      expect(await history()).toEqual({ length: 1, bytes: 68, counted: 68 });
    });
  });
});
