import Redis, { Cluster } from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { configWith } from '../src/config/load-config';
import { keySlot } from '../src/redis/key-slot';
import { RedisConnections } from '../src/redis/redis-connections';
import { RedisRoomBroker } from '../src/redis/redis-room-broker';
import type { Publication } from '../src/rooms/publication';
import type { PublishResult } from '../src/rooms/room-broker';
import { eventually } from './support/eventually';
import { clusterStreamDefaults } from './support/cluster-client';
import { RedisCluster, describeWithRedisCluster } from './support/redis-cluster';

/*
 * The broker's sharded pub/sub on a 3-master cluster with a replica each: each shard carries its
 * own rooms' publications, and a connected subscriber loses and duplicates nothing when a busy
 * room's slot moves or a master is SIGKILLed (its replica promoted); rooms of the other shards
 * notice nothing. Cases share the cluster; the failover runs last (it leaves a shard without a
 * replica).
 */

/** One instance's connections and broker, and every publication its broker delivered. */
interface Instance {
  broker: RedisRoomBroker;
  received: Publication[];
  stop(): Promise<void>;
}

/** What a publishing loop sent to one room, and what Redis acknowledged. */
interface Sent {
  texts: string[];
  acknowledged: { text: string; position: PublishResult }[];
  failures: number;
}

describeWithRedisCluster('sharded pub/sub on a 3-master cluster with replicas', () => {
  let cluster: RedisCluster;
  let admin: Cluster;
  let prefixes = 0;
  let prefix: string;
  let instances: Instance[];

  beforeAll(async () => {
    cluster = await RedisCluster.start({
      masters: 3,
      replicas: 1,
      nodeTimeoutMs: 1_000,
      requireFullCoverage: false,
    });
    admin = new Cluster(cluster.addresses.slice(0, 3), { lazyConnect: true });
    await admin.connect();
  }, 60_000);

  afterAll(async () => {
    admin?.disconnect();
    await cluster?.stop();
  });

  beforeEach(() => {
    prefix = `pubsub-${process.pid}-${++prefixes}:`;
    instances = [];
  });

  afterEach(async () => {
    for (const instance of instances) await instance.stop();
  });

  async function instance(): Promise<Instance> {
    const redis = new RedisConnections(
      configWith({
        REDIS_CLUSTER_NODES: cluster.seeds,
        ...clusterStreamDefaults({ REDIS_CLUSTER_NODES: cluster.seeds }),
        REDIS_KEY_PREFIX: prefix,
        HISTORY_SIZE: 1_000,
      }),
    );
    await redis.connect();
    const broker = new RedisRoomBroker(redis);
    broker.onModuleInit();
    const received: Publication[] = [];
    broker.onPublication((publication) => received.push(publication));
    const started = {
      broker,
      received,
      stop: async () => {
        broker.onModuleDestroy();
        await redis.onApplicationShutdown();
      },
    };
    instances.push(started);
    return started;
  }

  const channel = (roomId: string): string => `${prefix}{${roomId}}:ch`;
  const frame = (text: string) => ({ kind: 'frame' as const, frame: JSON.stringify(text) });
  const textOf = (publication: Publication): string =>
    publication.data.kind === 'frame' ? (JSON.parse(publication.data.frame) as string) : '';
  const inRoom = (received: Publication[], roomId: string): Publication[] =>
    received.filter((publication) => publication.roomId === roomId);

  /** `count` room ids whose channels the master at `address` owns. */
  async function roomsOn(address: string, count: number, tag: string): Promise<string[]> {
    const rooms: string[] = [];
    for (let i = 0; rooms.length < count; i++) {
      if ((await cluster.masterOf(channel(`${tag}-${i}`))) === address) rooms.push(`${tag}-${i}`);
    }
    return rooms;
  }

  /**
   * Publishes numbered texts to `roomId` one after the other until `until()` holds; `sent` fills
   * as it goes, `finished` resolves with it.
   */
  function publishUntil(
    broker: RedisRoomBroker,
    roomId: string,
    until: () => boolean,
  ): { sent: Sent; finished: Promise<Sent> } {
    const sent: Sent = { texts: [], acknowledged: [], failures: 0 };
    const run = async (): Promise<Sent> => {
      for (let i = 0; !until(); i++) {
        const text = `${roomId} #${i}`;
        sent.texts.push(text);
        try {
          sent.acknowledged.push({ text, position: await broker.publish(roomId, frame(text)) });
        } catch {
          sent.failures += 1;
          await delay(20);
        }
      }
      return sent;
    };
    return { sent, finished: run() };
  }

  /** Publishes a marker to `roomId` and waits until `receiver` has it: all before it arrived. */
  async function marker(from: Instance, receiver: Instance, roomId: string): Promise<string> {
    const text = `${roomId} marker`;
    await from.broker.publish(roomId, frame(text));
    await eventually(
      () => `${text} on the receiver`,
      () => inRoom(receiver.received, roomId).some((p) => textOf(p) === text),
    );
    return text;
  }

  async function shardNumSub(node: Redis, name: string): Promise<number> {
    const [, count] = (await node.call('PUBSUB', 'SHARDNUMSUB', name)) as [string, number];
    return Number(count);
  }

  async function commandCalls(node: Redis, command: string): Promise<number> {
    const info = await node.info('commandstats');
    return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  }

  it('spreads the rooms over the shards and sends each publication to its own shard only', async () => {
    const [publisher, receiver] = [await instance(), await instance()];
    const rooms = Array.from({ length: 60 }, (_, i) => `spread-${i}`);
    for (const roomId of rooms) await receiver.broker.subscribe(roomId);
    const masters = admin.nodes('master');
    const addressOf = (node: Redis): string => `${node.options.host}:${node.options.port}`;
    const before = await Promise.all(masters.map((node) => commandCalls(node, 'spublish')));
    const plainBefore = await Promise.all(masters.map((node) => commandCalls(node, 'publish')));
    for (const roomId of rooms) await publisher.broker.publish(roomId, frame(`to ${roomId}`));
    await eventually('every room’s publication', () => receiver.received.length === rooms.length);

    const owners = await Promise.all(rooms.map((roomId) => cluster.masterOf(channel(roomId))));
    const after = await Promise.all(masters.map((node) => commandCalls(node, 'spublish')));
    const plainAfter = await Promise.all(masters.map((node) => commandCalls(node, 'publish')));
    for (const [i, node] of masters.entries()) {
      const owned = rooms.filter((_, room) => owners[room] === addressOf(node));
      // About a third each, and each shard ran the SPUBLISH of its own rooms, no other.
      expect(owned.length).toBeGreaterThan(10);
      expect(owned.length).toBeLessThan(30);
      expect(after[i] - before[i]).toBe(owned.length);
      expect(plainAfter[i] - plainBefore[i]).toBe(0);
      for (const [room, roomId] of rooms.entries()) {
        const expected = owners[room] === addressOf(node) ? 1 : 0;
        expect({ roomId, subscribers: await shardNumSub(node, channel(roomId)) }).toEqual({
          roomId,
          subscribers: expected,
        });
      }
    }
    for (const roomId of rooms) await receiver.broker.unsubscribe(roomId);
  });

  it('loses and duplicates nothing of a busy room whose slot moves to another shard', async () => {
    const [publisher, receiver] = [await instance(), await instance()];
    const roomId = 'busy';
    const slot = keySlot(channel(roomId));
    const from = await cluster.masterOf(slot);
    const to = cluster.addresses.slice(0, 3).find((address) => address !== from) as string;
    await receiver.broker.subscribe(roomId);
    let moved = false;
    const sending = publishUntil(publisher.broker, roomId, () => moved).finished;
    await eventually('a few publications before the move', () => receiver.received.length >= 20);
    await cluster.moveSlot(slot, to);
    await eventually('the room received from its new shard', async () => {
      const before = receiver.received.length;
      await eventually('more publications', () => receiver.received.length > before + 20);
      return true;
    });
    moved = true;
    const sent = await sending;
    const end = await marker(publisher, receiver, roomId);

    expect(await cluster.masterOf(slot)).toBe(to);
    const texts = inRoom(receiver.received, roomId).map(textOf);
    expect(texts).toEqual([...sent.acknowledged.map((entry) => entry.text), end]);
    const offsets = inRoom(receiver.received, roomId).map((p) => p.offset);
    expect(offsets).toEqual(offsets.map((_, i) => i + 1));
    expect(sent.failures).toBe(0);
    const target = admin
      .nodes('master')
      .find((node) => `${node.options.host}:${node.options.port}` === to);
    expect(await shardNumSub(target as Redis, channel(roomId))).toBe(1);
    await receiver.broker.unsubscribe(roomId);
  });

  it('loses and duplicates nothing when every shard drops the subscriber connections', async () => {
    const [publisher, receiver] = [await instance(), await instance()];
    const rooms = await Promise.all(
      cluster.addresses
        .slice(0, 3)
        .map(async (address, i) => (await roomsOn(address, 1, `blink${i}`))[0]),
    );
    for (const roomId of rooms) await receiver.broker.subscribe(roomId);
    let done = false;
    const loops = rooms.map((roomId) => publishUntil(publisher.broker, roomId, () => done));
    await eventually('publications before the drop', () => receiver.received.length >= 30);
    for (const node of admin.nodes('master')) await node.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const before = receiver.received.length;
    await eventually('publications after the drop', () => receiver.received.length >= before + 60);
    done = true;
    await Promise.all(loops.map((loop) => loop.finished));
    for (const [i, roomId] of rooms.entries()) {
      const end = await marker(publisher, receiver, roomId);
      const received = inRoom(receiver.received, roomId);
      const acknowledged = loops[i].sent.acknowledged.map((entry) => entry.text);
      expect(received.map(textOf)).toEqual([...acknowledged, end]);
      expect(received.map((p) => p.offset)).toEqual(received.map((_, n) => n + 1));
    }
  });

  it('gives a room a new epoch when its shard comes back without publications a subscriber was shown', async () => {
    const [publisher, receiver] = [await instance(), await instance()];
    const roomId = 'lossy';
    await receiver.broker.subscribe(roomId);
    for (let i = 1; i <= 5; i++) await publisher.broker.publish(roomId, frame(`before ${i}`));
    await eventually('five publications', () => receiver.received.length === 5);
    const { epoch } = receiver.received[4];
    // As a replica promoted before it received the fifth: the stream and position end at 4.
    const owner = await cluster.masterOf(channel(roomId));
    const node = admin
      .nodes('master')
      .find((master) => `${master.options.host}:${master.options.port}` === owner) as Redis;
    const hist = `${prefix}{${roomId}}:hist`;
    const kept = (await node.xrange(hist, '-', '4-0')) as [string, string[]][];
    await node.del(hist);
    for (const [id, fields] of kept) await node.xadd(hist, id, ...fields);
    await node.hset(`${prefix}{${roomId}}:meta`, 's', '4');
    await node.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(
      'the room’s new epoch',
      async () => (await node.hget(`${prefix}{${roomId}}:meta`, 'e')) !== epoch,
    );
    const after = await publisher.broker.publish(roomId, frame('after'));
    await eventually('the publication after', () => receiver.received.length === 6);

    expect(after.epoch).not.toBe(epoch);
    expect(receiver.received.map(textOf)).toEqual(
      [1, 2, 3, 4, 5].map((i) => `before ${i}`).concat('after'),
    );
    expect(receiver.received[5]).toMatchObject({ offset: 5, epoch: after.epoch });
    // A client back with the old position is told it cannot recover (another epoch).
    const since = await receiver.broker.history(roomId, { since: { offset: 5, epoch }, limit: 10 });
    expect(since.position.epoch).toBe(after.epoch);
    expect(since.publications).toEqual([]);
    await receiver.broker.unsubscribe(roomId);
  });

  it('recovers the rooms of a master killed and replaced by its replica; the other rooms notice nothing', async () => {
    const [publisher, receiver] = [await instance(), await instance()];
    const doomedMaster = cluster.addresses[0];
    const [doomed] = await roomsOn(doomedMaster, 1, 'doomed');
    const calmMaster = cluster.addresses[1];
    const [calm] = await roomsOn(calmMaster, 1, 'calm');
    await receiver.broker.subscribe(doomed);
    await receiver.broker.subscribe(calm);
    let done = false;
    const toDoomed = publishUntil(publisher.broker, doomed, () => done);
    const toCalm = publishUntil(publisher.broker, calm, () => done);
    await eventually('publications before the crash', () => receiver.received.length >= 40);

    await cluster.kill(doomedMaster);
    await eventually(
      'the replica to take over',
      async () => {
        const owner = await cluster.masterOf(channel(doomed));
        return owner !== doomedMaster;
      },
      20_000,
    );
    await cluster.untilHealthy();
    // The doomed room publishes again, through its new master.
    const atFailover = toDoomed.sent.acknowledged.length;
    await eventually(
      'publications to the doomed room after the failover',
      () => toDoomed.sent.acknowledged.length >= atFailover + 20,
      20_000,
    );
    done = true;
    await Promise.all([toDoomed.finished, toCalm.finished]);
    const calmEnd = await marker(publisher, receiver, calm);
    const doomedEnd = await marker(publisher, receiver, doomed);

    // The calm room: every publication acknowledged, received once, in order, no gap.
    expect(toCalm.sent.failures).toBe(0);
    const calmReceived = inRoom(receiver.received, calm);
    expect(calmReceived.map(textOf)).toEqual([
      ...toCalm.sent.acknowledged.map((e) => e.text),
      calmEnd,
    ]);
    expect(calmReceived.map((p) => p.offset)).toEqual(calmReceived.map((_, i) => i + 1));

    // The doomed room: in send order, each text once, each (epoch, offset) once and consecutive
    // within an epoch; what was acknowledged after the failover all arrived.
    const doomedReceived = inRoom(receiver.received, doomed);
    const texts = doomedReceived.map(textOf);
    expect(new Set(texts).size).toBe(texts.length);
    // The acknowledged ones in send order. A publish refused during the failover (a timeout) may
    // still be made later, after later ones (ioredis sends what it had queued for the new master):
    // once at most, at a position of its own.
    const acknowledged = new Set(toDoomed.sent.acknowledged.map((entry) => entry.text));
    const order = texts
      .filter((text) => acknowledged.has(text))
      .map((text) => toDoomed.sent.texts.indexOf(text));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(texts[texts.length - 1]).toBe(doomedEnd);
    for (const [i, publication] of doomedReceived.entries()) {
      const previous = doomedReceived[i - 1];
      if (previous && previous.epoch === publication.epoch) {
        expect(publication.offset).toBe(previous.offset + 1);
      }
    }
    for (const { text } of toDoomed.sent.acknowledged.slice(atFailover))
      expect(texts).toContain(text);
    const epochs = [...new Set(doomedReceived.map((p) => p.epoch))];
    const last = doomedReceived[doomedReceived.length - 1];
    const history = await receiver.broker.history(doomed, { limit: 1_000 });
    expect(history.position).toEqual({ offset: last.offset, epoch: last.epoch });
    // What the receiver has of the newest epoch is what the stream holds of it.
    const newest = doomedReceived.filter((p) => p.epoch === last.epoch);
    const stored = history.publications.filter((p) => p.offset >= newest[0].offset);
    expect(stored.map(textOf)).toEqual(newest.map(textOf));

    const madeAnyway = texts.slice(0, -1).filter((text) => !acknowledged.has(text)).length;
    process.stdout.write(
      `failover: ${toDoomed.sent.failures} publish(es) refused (${madeAnyway} made anyway), ` +
        `epochs seen ${epochs.length}\n`,
    );
  });
});
