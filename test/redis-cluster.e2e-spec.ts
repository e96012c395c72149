import Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisConnections } from '../src/redis/redis-connections';
import { RedisRoomBroker } from '../src/redis/redis-room-broker';
import { RoomBroker } from '../src/rooms/room-broker';
import { RoomHub } from '../src/rooms/room-hub';
import { EVERYONE_ROOM, USERS_ROOM } from '../src/events/events.service';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient } from './support/test-client';
import { ISO_TIMESTAMP, errorFrame, isChat, POSITIONED } from './support/expected-frames';
import { eventually } from './support/eventually';

/*
 * Two instances of the server on one redis-server behave as one (issue 5): members on either
 * instance see each other's messages and join/leave events exactly once and in one order, and
 * presence is cluster-wide. Frames are collected in each client's inbox and compared whole at the
 * end of a case; that nothing else arrived is proven by a marker message sent through the room
 * afterwards (frames of a room arrive in the order the room produced them), never by waiting.
 */

/** Waits until `client` has received a frame matching `predicate` (it stays in the inbox). */
async function seen(client: TestClient, predicate: (frame: Frame) => boolean): Promise<Frame> {
  await eventually(
    () => `a frame matching ${predicate.toString()}; inbox: ${JSON.stringify(client.inbox)}`,
    () => client.inbox.some(predicate),
  );
  return client.inbox.find(predicate) as Frame;
}

const joined = (userId: string, roomId: string) => ({
  type: 'joined',
  userId,
  roomId,
  message: `Joined room: ${roomId}`,
  ...POSITIONED,
});
const userJoined = (userId: string, roomId: string) => ({
  type: 'user_joined',
  userId,
  roomId,
  message: `${userId} joined the room`,
  timestamp: ISO_TIMESTAMP,
  ...POSITIONED,
});
const userLeft = (userId: string, roomId: string) => ({
  type: 'user_left',
  userId,
  roomId,
  message: `${userId} left the room`,
  timestamp: ISO_TIMESTAMP,
  ...POSITIONED,
});
const chat = (userId: string, roomId: string, content: string) => ({
  type: 'chat_message',
  userId,
  roomId,
  content,
  timestamp: expect.any(String) as string,
  ...POSITIONED,
});
const chatContents = (client: TestClient): unknown[] =>
  client.inbox.filter((frame) => frame.type === 'chat_message').map((frame) => frame.content);

/**
 * Makes Redis answer the next SUBSCRIBE of `server` 200 ms late (a remote Redis, a busy link).
 * `called` turns true when the instance sent it.
 */
function holdFirstSubscribe(server: RunningApp): { called: boolean } {
  const subscriber = server.app.get(RedisConnections).subscriber as unknown as {
    subscribe: (...channels: string[]) => Promise<unknown>;
  };
  const original = subscriber.subscribe.bind(subscriber);
  const state = { called: false };
  subscriber.subscribe = async (...channels) => {
    subscriber.subscribe = original;
    state.called = true;
    await delay(200);
    return original(...channels);
  };
  return state;
}

describeWithRedis('two instances on one Redis', () => {
  let redis: RedisServer;
  let admin: Redis;
  let prefixes = 0;
  let prefix: string;
  let a: RunningApp;
  let b: RunningApp;
  let running: RunningApp[];
  let clients: TestClient[];
  let markers = 0;

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = new Redis(redis.url, { lazyConnect: true });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
  });

  const instance = (): Promise<RunningApp> =>
    // No presence cache: these tests read presence as the membership changes under it (the
    // cache has its own tests in presence.e2e-spec.ts).
    startApp({
      ...PROTOCOL_TEST_LIMITS,
      PRESENCE_CACHE_MS: 0,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
    });

  beforeEach(async () => {
    prefix = `cluster-${process.pid}-${++prefixes}:`;
    clients = [];
    [a, b] = await Promise.all([instance(), instance()]);
    running = [a, b];
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    // The instances finish the leaves of the closed clients before they stop: stopping is a
    // subject of its own, and a stop racing the leaves leaves ioredis timers behind.
    try {
      await eventually(
        async () =>
          `the instances to process the closes; left: ${(await membershipKeys()).join(', ')}`,
        async () =>
          running.every((server) => server.app.get(RoomHub).memberCount === 0) &&
          (await membershipKeys()).length === 0,
      );
    } finally {
      await Promise.all(running.map((server) => server.close()));
    }
  });

  async function connect(server: RunningApp): Promise<TestClient> {
    const client = await TestClient.connect(server.wsUrl);
    clients.push(client);
    return client;
  }

  /** Joins `roomId` on `server` as `userId`; the `joined` frame stays in the inbox. */
  async function join(server: RunningApp, userId: string, roomId: string): Promise<TestClient> {
    const client = await connect(server);
    client.send({ type: 'join', userId, roomId });
    await seen(client, (f) => f.type === 'joined');
    return client;
  }

  /** Joins, and waits until each of `members` has heard of it. */
  async function joinSeenBy(
    server: RunningApp,
    userId: string,
    roomId: string,
    members: TestClient[],
  ): Promise<TestClient> {
    const client = await join(server, userId, roomId);
    for (const member of members) {
      await seen(member, (f) => f.type === 'user_joined' && f.userId === userId);
    }
    return client;
  }

  /**
   * `sender` sends a marker chat message and every one of `receivers` gets it. Whatever the room
   * produced before the marker has then arrived too. Returns the content sent.
   */
  async function marker(
    sender: TestClient,
    userId: string,
    receivers: TestClient[],
  ): Promise<string> {
    const content = `marker ${++markers}`;
    sender.send({ type: 'chat_message', userId, content });
    for (const receiver of receivers) await seen(receiver, isChat(content));
    return content;
  }

  /** Asks for presence until `done` holds for the answer; returns that answer. */
  async function presenceWhen(
    client: TestClient,
    roomId: string,
    done: (users: Frame['users']) => boolean,
  ): Promise<Frame> {
    let answer: Frame | undefined;
    await eventually(
      () => `presence of ${roomId} to settle; last: ${JSON.stringify(answer)}`,
      async () => {
        answer = await client.request({ type: 'presence', roomId }, 'presence');
        return done(answer.users);
      },
    );
    return answer as Frame;
  }

  const membershipKeys = async (): Promise<string[]> =>
    (await admin.keys(`${prefix}*`))
      .filter((key) => !/^[^{]*\{#i:[^}]+\}:alive$/.test(key) && !/:(meta|hist)$/.test(key))
      .sort();

  const numsub = async (roomId: string): Promise<unknown> =>
    (await admin.pubsub('NUMSUB', `${prefix}{${roomId}}:ch`))[1];

  const brokerOf = (server: RunningApp): RedisRoomBroker =>
    server.app.get<RoomBroker, RedisRoomBroker>(RoomBroker);
  // Every instance also follows the events platform's control rooms (~users, ~all).
  const CONTROL_ROOMS = [USERS_ROOM, EVERYONE_ROOM];
  const chatRooms = (app: RunningApp): number =>
    brokerOf(app).subscribedRooms - CONTROL_ROOMS.length;
  const roomChannels = async (): Promise<string[]> =>
    ((await admin.pubsub('CHANNELS', `${prefix}*`)) as string[]).filter(
      (channel) => !CONTROL_ROOMS.some((room) => channel.includes(`{${room}}`)),
    );

  it('carries chat between members on both instances, each frame once, the sender included', async () => {
    const alice = await join(a, 'alice', 'lobby');
    const bob = await joinSeenBy(b, 'bob', 'lobby', [alice]);
    const carol = await joinSeenBy(a, 'carol', 'lobby', [alice, bob]);
    const dave = await joinSeenBy(b, 'dave', 'lobby', [alice, bob, carol]);
    const everyone = [alice, bob, carol, dave];

    alice.send({ type: 'chat_message', userId: 'alice', content: 'hello from A' });
    for (const client of everyone) await seen(client, isChat('hello from A'));
    bob.send({ type: 'chat_message', userId: 'bob', content: 'hello from B' });
    for (const client of everyone) await seen(client, isChat('hello from B'));
    const end = await marker(dave, 'dave', everyone);

    const messages = [
      chat('alice', 'lobby', 'hello from A'),
      chat('bob', 'lobby', 'hello from B'),
      chat('dave', 'lobby', end),
    ];
    expect(alice.inbox).toEqual([
      joined('alice', 'lobby'),
      userJoined('bob', 'lobby'),
      userJoined('carol', 'lobby'),
      userJoined('dave', 'lobby'),
      ...messages,
    ]);
    expect(bob.inbox).toEqual([
      joined('bob', 'lobby'),
      userJoined('carol', 'lobby'),
      userJoined('dave', 'lobby'),
      ...messages,
    ]);
    expect(carol.inbox).toEqual([
      joined('carol', 'lobby'),
      userJoined('dave', 'lobby'),
      ...messages,
    ]);
    expect(dave.inbox).toEqual([joined('dave', 'lobby'), ...messages]);
  });

  it('announces a user with connections on both instances once: in with the first, out with the last', async () => {
    const bob = await join(b, 'bob', 'lobby');
    const carol = await joinSeenBy(a, 'carol', 'lobby', [bob]);
    const aliceOnA = await joinSeenBy(a, 'alice', 'lobby', [bob, carol]);

    // A second connection of alice, on the other instance: nobody is told. Her own marker is
    // published after anything her join published.
    const aliceOnB = await join(b, 'alice', 'lobby');
    const end1 = await marker(aliceOnB, 'alice', [bob, carol, aliceOnA, aliceOnB]);
    const both = await presenceWhen(carol, 'lobby', () => true);
    expect(both.users).toEqual([
      { userId: 'bob', connections: 1, since: expect.any(String) },
      { userId: 'carol', connections: 1, since: expect.any(String) },
      { userId: 'alice', connections: 2, since: expect.any(String) },
    ]);

    // The first connection closes: alice is still in the room through B, nobody is told. Once
    // presence shows the close processed, a marker through A follows anything A published.
    await aliceOnA.close();
    await presenceWhen(carol, 'lobby', (users) =>
      (users as { userId: string; connections: number }[]).some(
        (u) => u.userId === 'alice' && u.connections === 1,
      ),
    );
    const end2 = await marker(carol, 'carol', [bob, carol, aliceOnB]);

    // The last one closes: user_left, once, on both instances.
    await aliceOnB.close();
    for (const client of [bob, carol]) await seen(client, (f) => f.type === 'user_left');
    const end3 = await marker(bob, 'bob', [bob, carol]);

    expect(bob.inbox).toEqual([
      joined('bob', 'lobby'),
      userJoined('carol', 'lobby'),
      userJoined('alice', 'lobby'),
      chat('alice', 'lobby', end1),
      chat('carol', 'lobby', end2),
      userLeft('alice', 'lobby'),
      chat('bob', 'lobby', end3),
    ]);
    expect(carol.inbox).toEqual([
      joined('carol', 'lobby'),
      userJoined('alice', 'lobby'),
      chat('alice', 'lobby', end1),
      chat('carol', 'lobby', end2),
      userLeft('alice', 'lobby'),
      chat('bob', 'lobby', end3),
    ]);
    expect(aliceOnB.inbox).toEqual([
      joined('alice', 'lobby'),
      chat('alice', 'lobby', end1),
      chat('carol', 'lobby', end2),
    ]);
  });

  it('orders a user’s leave on one instance before their return on the other, as the room had them', async () => {
    const bob = await join(b, 'bob', 'lobby');
    const aliceOnA = await joinSeenBy(a, 'alice', 'lobby', [bob]);
    // Alice leaves on A and comes back through B at once. A's removal and its user_left are one
    // script (one position in the room's stream), so however slow A is, once the room shows her
    // gone her user_left is ordered before her return.
    await aliceOnA.close();
    await presenceWhen(bob, 'lobby', (users) =>
      (users as { userId: string }[]).every((u) => u.userId !== 'alice'),
    );
    const aliceOnB = await join(b, 'alice', 'lobby');
    // B has finished the join (its events are published) once it answers her next request.
    await aliceOnB.request({ type: 'presence' }, 'presence');
    const end = await marker(aliceOnB, 'alice', [bob, aliceOnB]);
    await eventually(
      () => `alice's joins and leave at bob; inbox: ${JSON.stringify(bob.inbox)}`,
      () => bob.inbox.filter((f) => f.userId === 'alice' && f.type !== 'chat_message').length >= 3,
    );
    const present = await presenceWhen(bob, 'lobby', () => true);
    expect(present.users).toEqual([
      { userId: 'bob', connections: 1, since: expect.any(String) },
      { userId: 'alice', connections: 1, since: expect.any(String) },
    ]);
    // Membership went: alice in (A), alice out (A), alice in (B). Bob must hear it in that order,
    // or he shows alice as gone while she is in the room.
    expect(
      bob.inbox
        .filter((f) => f.type !== 'chat_message')
        .map((f) => `${f.type} ${String(f.userId)}`),
    ).toEqual(['joined bob', 'user_joined alice', 'user_left alice', 'user_joined alice']);
    expect(aliceOnB.inbox).toEqual([joined('alice', 'lobby'), chat('alice', 'lobby', end)]);
  });

  it('delivers the room to a member who joined while the instance’s subscription was still on its way', async () => {
    const bob = await join(b, 'bob', 'lobby');
    // Redis answers A's SUBSCRIBE of the room slowly; meanwhile a second member joins on A.
    const subscribing = holdFirstSubscribe(a);
    const alice = await connect(a);
    alice.send({ type: 'join', userId: 'alice', roomId: 'lobby' });
    await eventually('A to subscribe the room', () => subscribing.called);
    const carol = await join(a, 'carol', 'lobby');
    // Carol has `joined`: what the room says from now on must reach her.
    bob.send({ type: 'chat_message', userId: 'bob', content: 'after carol joined' });
    await seen(bob, isChat('after carol joined'));
    await seen(alice, (f) => f.type === 'joined');
    const end = await marker(bob, 'bob', [bob, alice, carol]);
    expect(chatContents(carol)).toEqual(['after carol joined', end]);
  });

  it('lists presence cluster-wide: connections counted across instances, oldest first', async () => {
    const alice = await join(a, 'alice', 'lobby');
    await delay(5); // distinct arrival times, so "oldest first" has one answer
    const bob = await join(b, 'bob', 'lobby');
    await delay(5);
    await join(b, 'alice', 'lobby');
    const carol = await join(a, 'carol', 'kitchen');
    const stranger = await connect(b);

    const lobby = await bob.request({ type: 'presence' }, 'presence');
    expect(lobby).toEqual({
      type: 'presence',
      roomId: 'lobby',
      users: [
        { userId: 'alice', connections: 2, since: expect.any(String) },
        { userId: 'bob', connections: 1, since: expect.any(String) },
      ],
      count: 2,
      truncated: false,
    });
    const [aliceSince, bobSince] = (lobby.users as { since: string }[]).map((u) =>
      Date.parse(u.since),
    );
    expect(aliceSince).toBeLessThan(bobSince);
    expect(new Date(aliceSince).toISOString()).toBe((lobby.users as { since: string }[])[0].since);

    expect(await alice.request({ type: 'presence', roomId: 'lobby' }, 'presence')).toEqual(lobby);
    expect(await carol.request({ type: 'presence', roomId: 'lobby' }, 'presence')).toEqual(lobby);
    expect(await stranger.request({ type: 'presence', roomId: 'lobby' }, 'presence')).toEqual(
      lobby,
    );
    expect(await carol.request({ type: 'presence' }, 'presence')).toEqual({
      type: 'presence',
      roomId: 'kitchen',
      users: [{ userId: 'carol', connections: 1, since: expect.any(String) }],
      count: 1,
      truncated: false,
    });
    expect(await bob.request({ type: 'presence', roomId: 'empty' }, 'presence')).toEqual({
      type: 'presence',
      roomId: 'empty',
      users: [],
      count: 0,
      truncated: false,
    });
    expect(await stranger.request({ type: 'presence' }, 'error')).toEqual(errorFrame('not_joined'));

    // Alice's first connection goes: she stays, with one connection and her original since.
    await alice.close();
    const after = await presenceWhen(bob, 'lobby', (users) =>
      (users as { connections: number }[]).every((u) => u.connections === 1),
    );
    expect(after.users).toEqual([
      { userId: 'alice', connections: 1, since: (lobby.users as { since: string }[])[0].since },
      { userId: 'bob', connections: 1, since: (lobby.users as { since: string }[])[1].since },
    ]);
  });

  it('delivers 1,000 messages sent on one instance in order on the other', async () => {
    const alice = await join(a, 'alice', 'lobby');
    const bob = await joinSeenBy(b, 'bob', 'lobby', [alice]);
    const sent = Array.from({ length: 1000 }, (_, i) => `message ${i}`);
    for (const content of sent) alice.send({ type: 'chat_message', userId: 'alice', content });
    await eventually(
      () =>
        `1,000 messages; bob has ${chatContents(bob).length}, alice ${chatContents(alice).length}`,
      () => chatContents(bob).length >= sent.length && chatContents(alice).length >= sent.length,
      15_000,
    );
    const end = await marker(alice, 'alice', [alice, bob]);
    expect(chatContents(bob)).toEqual([...sent, end]);
    expect(chatContents(alice)).toEqual([...sent, end]);
  });

  it('shows every member on both instances the same order of two senders’ interleaved messages', async () => {
    const alice = await join(a, 'alice', 'lobby');
    const bob = await joinSeenBy(b, 'bob', 'lobby', [alice]);
    const carol = await joinSeenBy(a, 'carol', 'lobby', [alice, bob]);
    const dave = await joinSeenBy(b, 'dave', 'lobby', [alice, bob, carol]);
    const everyone = [alice, bob, carol, dave];
    const count = 300;
    for (let i = 0; i < count; i++) {
      alice.send({ type: 'chat_message', userId: 'alice', content: `alice ${i}` });
      bob.send({ type: 'chat_message', userId: 'bob', content: `bob ${i}` });
    }
    await eventually(
      () =>
        `${2 * count} messages at everyone: ${everyone.map((c) => chatContents(c).length).join(', ')}`,
      () => everyone.every((client) => chatContents(client).length >= 2 * count),
      15_000,
    );
    const order = chatContents(alice);
    expect(order).toHaveLength(2 * count);
    for (const client of everyone) expect(chatContents(client)).toEqual(order);
    // Each sender's own messages keep their order within the common one.
    for (const sender of ['alice', 'bob']) {
      const own = order.filter((content) => String(content).startsWith(`${sender} `));
      expect(own).toEqual(Array.from({ length: count }, (_, i) => `${sender} ${i}`));
    }
    const end = await marker(dave, 'dave', everyone);
    for (const client of everyone) expect(chatContents(client)).toEqual([...order, end]);
  });

  it('switches rooms across instances: left in the old room, joined in the new', async () => {
    const alice = await join(a, 'alice', 'red');
    const bob = await joinSeenBy(b, 'bob', 'red', [alice]);
    const carol = await join(b, 'carol', 'blue');

    alice.send({ type: 'switch_room', userId: 'alice', roomId: 'blue' });
    await seen(alice, (f) => f.type === 'joined' && f.roomId === 'blue');
    await seen(bob, (f) => f.type === 'user_left');
    await seen(carol, (f) => f.type === 'user_joined');
    alice.send({ type: 'chat_message', userId: 'alice', content: 'hello blue' });
    await seen(carol, isChat('hello blue'));
    const redEnd = await marker(bob, 'bob', [bob]);
    const blueEnd = await marker(carol, 'carol', [alice, carol]);

    expect(alice.inbox).toEqual([
      joined('alice', 'red'),
      userJoined('bob', 'red'),
      joined('alice', 'blue'),
      chat('alice', 'blue', 'hello blue'),
      chat('carol', 'blue', blueEnd),
    ]);
    expect(bob.inbox).toEqual([
      joined('bob', 'red'),
      userLeft('alice', 'red'),
      chat('bob', 'red', redEnd),
    ]);
    expect(carol.inbox).toEqual([
      joined('carol', 'blue'),
      userJoined('alice', 'blue'),
      chat('alice', 'blue', 'hello blue'),
      chat('carol', 'blue', blueEnd),
    ]);
    expect((await bob.request({ type: 'presence' }, 'presence')).users).toEqual([
      { userId: 'bob', connections: 1, since: expect.any(String) },
    ]);
    expect(
      (await alice.request({ type: 'presence' }, 'presence')).users as { userId: string }[],
    ).toEqual([
      expect.objectContaining({ userId: 'carol', connections: 1 }),
      expect.objectContaining({ userId: 'alice', connections: 1 }),
    ]);
  });

  it('subscribes an instance only to the rooms it has local members in, until the last leaves', async () => {
    const alice = await join(a, 'alice', 'red');
    const bob = await join(b, 'bob', 'blue');
    expect(await roomChannels()).toEqual(
      expect.arrayContaining([`${prefix}{red}:ch`, `${prefix}{blue}:ch`]),
    );
    expect([await numsub('red'), await numsub('blue')]).toEqual([1, 1]);
    expect([chatRooms(a), chatRooms(b)]).toEqual([1, 1]);

    // A second local member of red on A: still one subscription of A.
    const alice2 = await join(a, 'alice', 'red');
    expect(await numsub('red')).toBe(1);

    // bob moves to red: B now receives red and no longer blue.
    bob.send({ type: 'switch_room', userId: 'bob', roomId: 'red' });
    await seen(bob, (f) => f.type === 'joined' && f.roomId === 'red');
    expect([await numsub('red'), await numsub('blue')]).toEqual([2, 0]);
    expect(await roomChannels()).toEqual([`${prefix}{red}:ch`]);
    expect(chatRooms(b)).toBe(1);

    await alice.close();
    await marker(bob, 'bob', [bob, alice2]);
    expect(await numsub('red')).toBe(2);
    await alice2.close();
    await eventually(
      'A to unsubscribe red after its last member left',
      async () => (await numsub('red')) === 1,
    );
    expect(chatRooms(a)).toBe(0);
    await bob.close();
    await eventually('B to unsubscribe red', async () => (await roomChannels()).length === 0);
    expect([chatRooms(a), chatRooms(b)]).toEqual([0, 0]);
  });

  it('leaves no membership keys in Redis once everyone left, and none at all once stopped', async () => {
    const alice = await join(a, 'alice', 'lobby');
    await join(b, 'alice', 'lobby');
    const bob = await join(b, 'bob', 'lobby');
    await join(a, 'carol', 'kitchen');
    await join(b, 'dave', 'kitchen');
    bob.send({ type: 'switch_room', userId: 'bob', roomId: 'kitchen' });
    await seen(bob, (f) => f.type === 'joined' && f.roomId === 'kitchen');
    alice.send({ type: 'switch_room', userId: 'alice', roomId: 'attic' });
    await seen(alice, (f) => f.type === 'joined' && f.roomId === 'attic');
    expect(await membershipKeys()).not.toEqual([]);

    await Promise.all(clients.map((client) => client.close()));
    await eventually(
      'the membership keys to go',
      async () => (await membershipKeys()).length === 0,
    );
    // Room positions and histories outlive their rooms (with a TTL), for returning clients.
    const positions = ['attic', 'kitchen', 'lobby']
      .flatMap((room) => [`${prefix}{${room}}:hist`, `${prefix}{${room}}:meta`])
      .sort();
    // And each live instance's alive key (its per-user counts count), with a TTL.
    const alive = running.map(
      (server) => `${prefix}{#i:${server.app.get(RedisConnections).instanceId}}:alive`,
    );
    expect((await admin.keys(`${prefix}*`)).sort()).toEqual([...alive, ...positions].sort());
    for (const key of [...positions, ...alive]) expect(await admin.pttl(key)).toBeGreaterThan(0);

    await Promise.all(running.splice(0).map((server) => server.close()));
    expect((await admin.keys(`${prefix}*`)).sort()).toEqual(positions);
  });

  it('reports the redis indicator up on /health/ready of both instances', async () => {
    for (const server of [a, b]) {
      const ready = await fetch(`${server.httpUrl}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ok',
        info: { chat: { status: 'up' }, redis: { status: 'up' } },
        error: {},
      });
      const live = await fetch(`${server.httpUrl}/health/live`);
      expect(live.status).toBe(200);
      expect(await live.json()).toMatchObject({ status: 'ok', info: { chat: { status: 'up' } } });
    }
  });
});
