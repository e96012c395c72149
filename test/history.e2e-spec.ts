import fc from 'fast-check';
import Redis from 'ioredis';
import type { AppConfig } from '../src/config/app-config';
import { RedisConnections } from '../src/redis/redis-connections';
import { RedisCluster, describeWithRedisCluster } from './support/redis-cluster';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient } from './support/test-client';
import { TEST_SECRET, signToken } from './support/jwt-fixtures';
import {
  POSITIONED,
  chatFrame,
  errorFrame,
  isChat,
  joinedFrame,
  userJoinedFrame,
  userLeftFrame,
} from './support/expected-frames';

/*
 * History and recovery (issue 11) from outside, as a client written from the README would use
 * them: offsets and epochs on every room frame, `history`, and `join` / `switch_room` with
 * `since`. The same cases run on one in-memory instance and on two instances sharing a real
 * Redis, where the publisher talks to one instance and the recovering client to the other.
 */

interface Deployment {
  /** Where the room's other members (the publishers) connect. */
  a: RunningApp;
  /** Where a recovering client comes back (the same app in memory). */
  b: RunningApp;
  close(): Promise<void>;
}

type Deploy = (settings?: Partial<AppConfig>) => Promise<Deployment>;

interface Joined {
  client: TestClient;
  /** Every frame the client received, in arrival order (whether `next` took it or not). */
  log: Frame[];
  joined: Frame;
  /** What arrived before `joined`: the replay of a recovery. */
  replay: Frame[];
}

type Since = { offset: number; epoch: string };

/** Opens a client that records every frame it receives, in order. */
function recorded(url: string): { client: TestClient; log: Frame[] } {
  const client = TestClient.open(url);
  const log: Frame[] = [];
  client.socket.on('message', (data) => log.push(JSON.parse((data as Buffer).toString()) as Frame));
  return { client, log };
}

/** Connects and joins (or rejoins with `since`); resolves at `joined`. */
async function join(url: string, userId: string, roomId: string, since?: Since): Promise<Joined> {
  const { client, log } = recorded(url);
  await client.ready;
  const joined = await client.request(
    { type: 'join', userId, roomId, ...(since && { since }) },
    'joined',
  );
  const replay = log.slice(
    0,
    log.findIndex((frame) => frame.type === 'joined'),
  );
  return { client, log, joined, replay };
}

/** Sends a chat message and resolves with its echo (as every member got it). */
function say(client: TestClient, userId: string, content: string): Promise<Frame> {
  return client.request({ type: 'chat_message', userId, content }, isChat(content));
}

const positionOf = (frame: Frame): Since => ({
  offset: frame.offset as number,
  epoch: frame.epoch as string,
});
const contents = (frames: Frame[]): unknown[] =>
  frames.filter((f) => f.type === 'chat_message').map((f) => f.content);
const range = (n: number, prefix: string): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function historySuite(deploy: Deploy): void {
  let deployment: Deployment | undefined;
  const clients: TestClient[] = [];
  let rooms = 0;
  /** A room of its own per case: cases never see each other's publications. */
  let room: string;

  beforeEach(() => {
    room = `hist-${process.pid}-${++rooms}`;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await deployment?.close();
    deployment = undefined;
  });

  const start = async (settings: Partial<AppConfig> = {}): Promise<Deployment> =>
    (deployment = await deploy(settings));
  const member = async (url: string, userId: string, since?: Since): Promise<Joined> => {
    const joined = await join(url, userId, room, since);
    clients.push(joined.client);
    return joined;
  };

  it('stamps user_joined and user_left with one timestamp: the same for every member, on every instance, and in history', async () => {
    const { a, b } = await start();
    const alice = await member(a.wsUrl, 'alice');
    const carol = await member(b.wsUrl, 'carol');
    await alice.client.next(userJoinedMatcher('carol'));
    const before = Date.now();
    const bob = await member(b.wsUrl, 'bob');
    const joinedAtA = await alice.client.next(userJoinedMatcher('bob'));
    const joinedAtB = await carol.client.next(userJoinedMatcher('bob'));
    await bob.client.close();
    const leftAtA = await alice.client.next((f) => f.type === 'user_left' && f.userId === 'bob');
    const leftAtB = await carol.client.next((f) => f.type === 'user_left' && f.userId === 'bob');
    const after = Date.now();
    expect(joinedAtA).toEqual(userJoinedFrame('bob', room));
    expect(leftAtA).toEqual(userLeftFrame('bob', room));
    expect(joinedAtB).toEqual(joinedAtA);
    expect(leftAtB).toEqual(leftAtA);
    for (const frame of [joinedAtA, leftAtA]) {
      // With Redis, its clock: a second of leeway against this process's.
      const at = Date.parse(frame.timestamp as string);
      expect(at).toBeGreaterThanOrEqual(before - 1_000);
      expect(at).toBeLessThanOrEqual(after + 1_000);
    }
    const history = await alice.client.request({ type: 'history' }, 'history');
    const replayed = (history.messages as Frame[]).filter((f) => f.userId === 'bob');
    expect(replayed).toEqual([joinedAtA, leftAtA]);
  });

  it('numbers every room frame: consecutive offsets of one epoch, joined at the newest', async () => {
    const { a, b } = await start();
    const alice = await member(a.wsUrl, 'alice');
    expect(alice.joined).toEqual(joinedFrame('alice', room));
    const bob = await member(b.wsUrl, 'bob');
    const joinedBob = await alice.client.next('user_joined');
    const first = await say(alice.client, 'alice', 'one');
    const second = await say(bob.client, 'bob', 'two');
    expect(first).toEqual(chatFrame('alice', room, 'one'));
    const offsets = [alice.joined, joinedBob, first, second].map((f) => f.offset);
    expect(offsets).toEqual([1, 2, 3, 4]);
    expect(bob.joined.offset).toBe(2);
    for (const frame of [joinedBob, first, second, bob.joined]) {
      expect(frame.epoch).toBe(alice.joined.epoch);
    }
    // Every member got the same frame, with the same position.
    expect(await bob.client.next(isChat('one'))).toEqual(first);
  });

  it('answers history oldest first, at most limit, before an offset, each frame as broadcast', async () => {
    const { a, b } = await start();
    const alice = await member(a.wsUrl, 'alice');
    const sent: Frame[] = [];
    for (const content of range(55, 'm')) sent.push(await say(alice.client, 'alice', content));
    const reader = await member(b.wsUrl, 'reader');
    const newest = sent[54];

    const last = await reader.client.request({ type: 'history', limit: 3 }, 'history');
    expect(last).toEqual({
      type: 'history',
      roomId: room,
      epoch: newest.epoch,
      // The reader's own join came after the last message.
      offset: (newest.offset as number) + 1,
      messages: [
        sent[53],
        sent[54],
        expect.objectContaining({ type: 'user_joined', ...POSITIONED }),
      ],
    });
    const before = await reader.client.request(
      { type: 'history', roomId: room, before: sent[5].offset, limit: 2 },
      'history',
    );
    expect(before.messages).toEqual([sent[3], sent[4]]);
    // No limit: the newest 50, oldest first.
    const page = await reader.client.request({ type: 'history' }, 'history');
    expect(page.messages).toEqual([...sent.slice(6), (last.messages as Frame[])[2]]);
    expect(await reader.client.request({ type: 'history', limit: 0 }, 'history')).toMatchObject({
      messages: [],
      offset: last.offset,
    });
  });

  it('gives at most HISTORY_MAX_LIMIT however many are asked for', async () => {
    const { a } = await start({ HISTORY_MAX_LIMIT: 4 });
    const alice = await member(a.wsUrl, 'alice');
    for (const content of range(6, 'm')) await say(alice.client, 'alice', content);
    for (const limit of [undefined, 5, 300, 1000]) {
      const answer = await alice.client.request({ type: 'history', limit }, 'history');
      expect(contents(answer.messages as Frame[])).toEqual(['m2', 'm3', 'm4', 'm5']);
    }
  });

  it('says a limit that is not an integer from 0 is not one, in a history frame and the history method alike', async () => {
    const { a } = await start({ HISTORY_MAX_LIMIT: 4 });
    const alice = await member(a.wsUrl, 'alice');
    for (const content of range(6, 'm')) await say(alice.client, 'alice', content);
    let call = 0;
    for (const limit of [2.5, '10', 'abc', true, -1, 1e300, { n: 1 }]) {
      expect(await alice.client.request({ type: 'history', limit })).toEqual(
        errorFrame('invalid_message', 'limit must be an integer from 0'),
      );
      const correlation_id = `h-${++call}`;
      const answer = await alice.client.request(
        { type: 'rpc', method: 'history', params: { room, limit }, correlation_id },
        (frame) => frame.correlation_id === correlation_id,
      );
      expect(answer.error).toMatchObject({
        code: 'invalid_params',
        details: {
          validation_errors: [{ field: 'limit', error: 'limit must be an integer from 0' }],
        },
      });
    }
    // Above HISTORY_MAX_LIMIT is no error: lowered to it, as the README says.
    const many = await alice.client.request(
      {
        type: 'rpc',
        method: 'history',
        params: { room, limit: 1_000_000_000 },
        correlation_id: 'h-max',
      },
      (frame) => frame.correlation_id === 'h-max',
    );
    expect((many.result as { messages: Frame[] }).messages).toHaveLength(4);
  });

  it('answers history of a named room without joining it, and refuses bad requests', async () => {
    const { a, b } = await start();
    const alice = await member(a.wsUrl, 'alice');
    await say(alice.client, 'alice', 'kept');
    const outsider = await TestClient.connect(b.wsUrl);
    clients.push(outsider);
    expect(await outsider.request({ type: 'history' })).toEqual(errorFrame('not_joined'));
    const named = await outsider.request({ type: 'history', roomId: room }, 'history');
    expect(contents(named.messages as Frame[])).toEqual(['kept']);
    for (const bad of [
      { limit: -1 },
      { limit: 1.5 },
      { limit: '5' },
      { before: 0 },
      { roomId: 'a b' },
    ]) {
      expect(await outsider.request({ type: 'history', roomId: room, ...bad })).toEqual(
        errorFrame('invalid_message'),
      );
    }
    const unknown = await outsider.request({ type: 'history', roomId: 'never-used' }, 'history');
    expect(unknown).toEqual({
      type: 'history',
      roomId: 'never-used',
      offset: 0,
      epoch: expect.any(String),
      messages: [],
    });
  });

  it('recovers 20 messages missed while away: replayed in order, then joined recovered:true', async () => {
    const { a, b } = await start();
    const alice = await member(a.wsUrl, 'alice');
    const bob = await member(a.wsUrl, 'bob');
    await say(bob.client, 'bob', 'before');
    const last = await alice.client.next(isChat('before'));
    await alice.client.close();
    const missed: Frame[] = [];
    for (const content of range(20, 'missed-')) missed.push(await say(bob.client, 'bob', content));

    const back = await member(b.wsUrl, 'alice', positionOf(last));
    expect(back.replay).toEqual(missed);
    expect(back.joined).toEqual({ ...joinedFrame('alice', room), recovered: true });
    expect(back.joined.epoch).toBe(last.epoch);
    // Live again, right after the position joined names.
    const after = await say(bob.client, 'bob', 'after');
    expect(await back.client.next(isChat('after'))).toEqual(after);
    expect(back.log.slice(back.log.findIndex((f) => f.type === 'joined') + 1)).toEqual([after]);
    expect(after.offset).toBe((back.joined.offset as number) + 1);
  });

  it('recovers on switch_room too, and with nothing missed recovers nothing', async () => {
    const { a, b } = await start();
    const alice = await member(a.wsUrl, 'alice');
    const seen = await say(alice.client, 'alice', 'seen');
    const { client: elsewhere, log } = recorded(b.wsUrl);
    clients.push(elsewhere);
    await elsewhere.ready;
    await elsewhere.request({ type: 'join', userId: 'alice2', roomId: `${room}-other` }, 'joined');
    await alice.client.close();
    await say((await member(a.wsUrl, 'bob')).client, 'bob', 'missed');
    log.length = 0;
    const switched = await elsewhere.request(
      { type: 'switch_room', userId: 'alice2', roomId: room, since: positionOf(seen) },
      'joined',
    );
    // Alice's leave is alice's, not alice2's: it is replayed with bob's join and message.
    expect(log.map((f) => [f.type, f.userId])).toEqual([
      ['user_left', 'alice'],
      ['user_joined', 'bob'],
      ['chat_message', 'bob'],
      ['joined', 'alice2'],
    ]);
    expect(switched).toMatchObject({ type: 'joined', roomId: room, recovered: true });
    const again = await elsewhere.request(
      { type: 'join', userId: 'alice2', roomId: room, since: positionOf(switched) },
      'joined',
    );
    expect(again).toMatchObject({ recovered: true, offset: switched.offset });
  });

  it('says recovered:false and replays nothing for another epoch, a gap too old, too many missed', async () => {
    const { a, b } = await start({ HISTORY_SIZE: 30, RECOVERY_MAX: 20 });
    const bob = await member(a.wsUrl, 'bob');
    const start0 = await say(bob.client, 'bob', 'start');
    for (const content of range(25, 'x')) await say(bob.client, 'bob', content);
    const newest = await say(bob.client, 'bob', 'newest');
    const cases: [string, Since][] = [
      ['another epoch', { offset: newest.offset as number, epoch: 'not-this-one' }],
      ['too many missed', positionOf(start0)],
      [
        'ahead of the stream',
        { offset: (newest.offset as number) + 5, epoch: newest.epoch as string },
      ],
    ];
    for (const [, since] of cases) {
      const back = await member(b.wsUrl, `carol-${since.offset}`, since);
      expect(back.replay).toEqual([]);
      expect(back.joined).toEqual({
        ...joinedFrame(`carol-${since.offset}`, room),
        recovered: false,
      });
      expect(back.joined.epoch).toBe(newest.epoch);
    }
    // Older than the 30 kept (and more than RECOVERY_MAX=20 could fill anyway): also false.
    for (const content of range(10, 'y')) await say(bob.client, 'bob', content);
    const old = await member(b.wsUrl, 'dave', { offset: 1, epoch: newest.epoch as string });
    expect(old.replay).toEqual([]);
    expect(old.joined.recovered).toBe(false);
  });

  it('recovers exactly RECOVERY_MAX missed (its own leave and join not counted), not one more', async () => {
    const { a, b } = await start({ RECOVERY_MAX: 5 });
    const bob = await member(a.wsUrl, 'bob');
    for (const [user, missed, recovered] of [
      ['erin', 5, true],
      ['fred', 6, false],
    ] as const) {
      const away = await member(a.wsUrl, user);
      const seen = await say(bob.client, 'bob', `${user}-seen`);
      await away.client.next(isChat(`${user}-seen`));
      await away.client.close();
      for (const content of range(missed, `${user}-`)) await say(bob.client, 'bob', content);
      const back = await member(b.wsUrl, user, positionOf(seen));
      expect(back.joined.recovered).toBe(recovered);
      expect(contents(back.replay)).toEqual(recovered ? range(missed, `${user}-`) : []);
    }
  });

  it('with HISTORY_SIZE=0 keeps positions but no history: recovery only when nothing was missed', async () => {
    const { a, b } = await start({ HISTORY_SIZE: 0 });
    const bob = await member(a.wsUrl, 'bob');
    const seen = await say(bob.client, 'bob', 'one');
    const upToDate = await member(b.wsUrl, 'carol', positionOf(seen));
    expect(upToDate.joined.recovered).toBe(false); // carol's own join came after `seen`
    const current = positionOf(upToDate.joined);
    const again = await member(b.wsUrl, 'carol', current);
    expect(again.joined).toMatchObject({ recovered: true, offset: current.offset });
    const history = await bob.client.request({ type: 'history' }, 'history');
    expect(history).toMatchObject({ messages: [], offset: current.offset, epoch: current.epoch });
  });

  it('loses and doubles nothing between the replay and the live stream (fast-check interleavings)', async () => {
    const { a, b } = await start();
    const bob = await member(a.wsUrl, 'bob');
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.boolean(), { maxLength: 12 }),
        async (whileAway, duringRejoin) => {
          run += 1;
          const user = `alice-${run}`;
          const alice = await member(a.wsUrl, user);
          const last = await say(bob.client, 'bob', `seen-${run}`);
          await alice.client.next(isChat(`seen-${run}`));
          await alice.client.close();
          const expected: string[] = [];
          for (let i = 0; i < whileAway; i++) {
            expected.push(`away-${run}-${i}`);
            await say(bob.client, 'bob', `away-${run}-${i}`);
          }
          // The rejoin goes out while bob keeps sending: `true` waits for the echo, `false`
          // sends without waiting, so publications land before, during and after the replay.
          const { client: back, log } = recorded(b.wsUrl);
          clients.push(back);
          const rejoin = { type: 'join', userId: user, roomId: room, since: positionOf(last) };
          back.socket.once('open', () => back.send(rejoin));
          for (const [i, wait] of duringRejoin.entries()) {
            const content = `during-${run}-${i}`;
            expected.push(content);
            if (wait) await say(bob.client, 'bob', content);
            else bob.client.send({ type: 'chat_message', userId: 'bob', content });
          }
          const marker = `marker-${run}`;
          expected.push(marker);
          await say(bob.client, 'bob', marker);
          // The marker may come in the replay (before joined) or live: wait for both.
          await back.next('joined');
          await back.next(isChat(marker));
          const joined = log.find((f) => f.type === 'joined');
          expect(joined).toMatchObject({ recovered: true });
          const chats = log.filter((f) => f.type === 'chat_message');
          expect(chats.map((f) => f.content)).toEqual(expected);
          const offsets = chats.map((f) => f.offset as number);
          expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
          // Before joined: at most its offset; after it: beyond it.
          const cut = log.indexOf(joined as Frame);
          for (const [i, frame] of log.entries()) {
            if (frame.offset === undefined) continue;
            if (i < cut) expect(frame.offset).toBeLessThanOrEqual(joined?.offset as number);
            if (i > cut) expect(frame.offset).toBeGreaterThan(joined?.offset as number);
          }
          await back.close();
        },
      ),
      { numRuns: 25 },
    );
  });
}

describe('history and recovery: in memory', () => {
  historySuite(async (settings = {}) => {
    const app = await startApp({ ...PROTOCOL_TEST_LIMITS, ...settings });
    return { a: app, b: app, close: () => app.close() };
  });
});

// Joins run the membership scripts: this suite passes once they touch one slot (issue 18, 1).
describeWithRedisCluster('history and recovery: two instances on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let prefixes = 0;

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  historySuite(async (settings = {}) => {
    const config = {
      ...PROTOCOL_TEST_LIMITS,
      REDIS_CLUSTER_NODES: cluster.seeds,
      REDIS_KEY_PREFIX: `hist-c-${process.pid}-${++prefixes}:`,
      ...settings,
    };
    const [a, b] = await Promise.all([startApp(config), startApp(config)]);
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  });
});

describeWithRedis('history and recovery: two instances on one Redis', () => {
  let redis: RedisServer;
  let admin: Redis;
  let prefixes = 0;

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await admin.quit();
    await redis.stop();
  });

  const settingsFor = (prefix: string, settings: Partial<AppConfig>): Partial<AppConfig> => ({
    ...PROTOCOL_TEST_LIMITS,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    ...settings,
  });

  historySuite(async (settings = {}) => {
    const prefix = `hist-${process.pid}-${++prefixes}:`;
    const [a, b] = await Promise.all([
      startApp(settingsFor(prefix, settings)),
      startApp(settingsFor(prefix, settings)),
    ]);
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  });

  describe('across restarts and losses', () => {
    let prefix: string;
    let apps: RunningApp[];
    const clients: TestClient[] = [];
    const instance = async (settings: Partial<AppConfig> = {}): Promise<RunningApp> => {
      const app = await startApp(settingsFor(prefix, settings));
      apps.push(app);
      return app;
    };

    beforeEach(() => {
      prefix = `hist-r-${process.pid}-${++prefixes}:`;
      apps = [];
    });

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.close()));
      await Promise.all(apps.map((app) => app.close()));
    });

    const member = async (app: RunningApp, userId: string, since?: Since): Promise<Joined> => {
      const joined = await join(app.wsUrl, userId, 'lobby', since);
      clients.push(joined.client);
      return joined;
    };

    it('recovers after every instance stopped and started again', async () => {
      const [a, b] = [await instance(), await instance()];
      const alice = await member(b, 'alice');
      const bob = await member(a, 'bob');
      const seen = await say(bob.client, 'bob', 'seen');
      await alice.client.next(isChat('seen'));
      const missed = [await say(bob.client, 'bob', 'm1'), await say(bob.client, 'bob', 'm2')];
      await Promise.all(clients.splice(0).map((client) => client.close()));
      await Promise.all(apps.splice(0).map((app) => app.close()));

      const again = await instance();
      const back = await member(again, 'alice', positionOf(seen));
      expect(contents(back.replay)).toEqual(['m1', 'm2']);
      expect(back.replay.filter((f) => f.type === 'chat_message')).toEqual(missed);
      expect(back.joined).toMatchObject({ recovered: true, epoch: seen.epoch });
    });

    it('changes the epoch when Redis restarts without persistence: recovered:false', async () => {
      const a = await instance();
      const bob = await member(a, 'bob');
      const seen = await say(bob.client, 'bob', 'before the restart');
      await redis.stop();
      await redis.restart();
      const b = await instance();
      const back = await member(b, 'alice', positionOf(seen));
      expect(back.replay).toEqual([]);
      expect(back.joined.recovered).toBe(false);
      expect(back.joined.epoch).not.toBe(seen.epoch);
      const later = await say(back.client, 'alice', 'after');
      expect(later.epoch).toBe(back.joined.epoch);
    });

    it('fills a gap on the live stream from the room’s stream (a pub/sub message lost)', async () => {
      const a = await instance();
      const b = await instance();
      const watcher = await member(b, 'watcher');
      const bob = await member(a, 'bob');
      const seen = await say(bob.client, 'bob', 'one');
      await watcher.client.next(isChat('one'));
      // A publication that reached the stream but whose PUBLISH was lost, as publish.lua
      // writes it: the next offset in the meta hash, the entry in the stream, no message.
      const meta = `${prefix}{lobby}:meta`;
      const offset = await admin.hincrby(meta, 's', 1);
      const lost = JSON.stringify({
        type: 'chat_message',
        userId: 'bob',
        roomId: 'lobby',
        content: 'lost',
      });
      await admin.xadd(`${prefix}{lobby}:hist`, `${offset}-0`, 'd', `f${lost}`);
      await say(bob.client, 'bob', 'three');
      const received = [
        await watcher.client.next('chat_message'),
        await watcher.client.next('chat_message'),
      ];
      expect(received.map((f) => [f.content, f.offset])).toEqual([
        ['lost', offset],
        ['three', offset + 1],
      ]);
      expect(received[0].epoch).toBe(seen.epoch);
    });

    it('reads every room back from its stream after the subscriber reconnects', async () => {
      const a = await instance();
      const b = await instance();
      const watcher = await member(b, 'watcher');
      const bob = await member(a, 'bob');
      await say(bob.client, 'bob', 'first');
      await watcher.client.next(isChat('first'));
      // Drops B's subscriber connection: what A publishes until it is back is lost to B's
      // pub/sub, and read back from the stream once B has re-subscribed.
      const subscriber = b.app.get(RedisConnections).subscriber as Redis;
      await admin.call('CLIENT', 'KILL', 'ADDR', `127.0.0.1:${subscriber.stream.localPort}`);
      const sent = range(30, 'while-');
      for (const content of sent) await say(bob.client, 'bob', content);
      await watcher.client.next(isChat('while-29'), 10_000);
      expect(contents(watcher.log)).toEqual(['first', ...sent]);
    });
  });
});

describe('history under AUTH_MODE=jwt', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({ ...PROTOCOL_TEST_LIMITS, AUTH_MODE: 'jwt', JWT_SECRET: TEST_SECRET });
  });

  afterAll(() => server.close());

  it('reads the rooms the token allows and refuses the others with forbidden', async () => {
    const token = await signToken({ sub: 'alice', rooms: ['lobby'] }, TEST_SECRET);
    const client = await TestClient.connect(server.wsUrl, {
      headers: { Authorization: `Bearer ${token}` },
    });
    try {
      await client.request({ type: 'join', userId: 'alice', roomId: 'lobby' }, 'joined');
      await say(client, 'alice', 'allowed');
      const lobby = await client.request({ type: 'history' }, 'history');
      expect(contents(lobby.messages as Frame[])).toEqual(['allowed']);
      expect(await client.request({ type: 'history', roomId: 'secret' })).toEqual(
        errorFrame('forbidden'),
      );
    } finally {
      await client.close();
    }
  });
});

const userJoinedMatcher =
  (userId: string) =>
  (frame: Frame): boolean =>
    frame.type === 'user_joined' && frame.userId === userId;
