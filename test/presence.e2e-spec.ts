import type { AppConfig } from '../src/config/app-config';
import { RoomStore } from '../src/rooms/room-store';
import { eventually } from './support/eventually';
import { errorFrame } from './support/expected-frames';
import { wrappedProvider } from './support/faults';
import { RunningApp, StartAppOptions, startApp } from './support/test-app';
import { Frame, TestClient, joinedClient } from './support/test-client';

/*
 * Presence and join/leave amplification (issue "Hold under attacks that stay inside every limit",
 * item 2), proven by counting frames: a presence answer is capped and cached, a large room's joins
 * and leaves go out as one presence_diff per interval, and presence and room switches cost more
 * of the rate bucket than a chat message.
 */

const BATCH = 25;

describe('presence and join/leave amplification', () => {
  let server: RunningApp | undefined;
  let clients: TestClient[] = [];

  async function start(config: Partial<AppConfig>, options?: StartAppOptions): Promise<RunningApp> {
    server = await startApp({ MAX_CONNECTIONS_PER_IP: 10_000, ...config }, options);
    return server;
  }

  /** `count` clients joined to `roomId` as u0, u1, …, opened BATCH at a time, in order. */
  async function fill(roomId: string, count: number, from = 0): Promise<TestClient[]> {
    const opened: TestClient[] = [];
    for (let i = from; i < from + count; i += BATCH) {
      const size = Math.min(BATCH, from + count - i);
      const batch = await Promise.all(
        Array.from({ length: size }, (_, k) => joinedClient(server!.wsUrl, `u${i + k}`, roomId)),
      );
      opened.push(...batch);
      clients.push(...batch);
    }
    return opened;
  }

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    clients = [];
    await server?.close();
    server = undefined;
  });

  describe('the presence answer', () => {
    it('lists PRESENCE_MAX_USERS users of a 300-user room, the oldest first, with count 300 and truncated true', async () => {
      await start({ JOIN_LEAVE_MAX_MEMBERS: 10 });
      const members = await fill('big', 300);
      const answer = await members[0].request({ type: 'presence' }, 'presence');
      expect(answer.count).toBe(300);
      expect(answer.truncated).toBe(true);
      const users = answer.users as { userId: string }[];
      expect(users.map((u) => u.userId)).toEqual(Array.from({ length: 100 }, (_, i) => `u${i}`));
      expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThan(100 * 120);
    });

    it('lists every user of a small room with truncated false', async () => {
      await start({ PRESENCE_MAX_USERS: 3 });
      const [alice] = await fill('small', 3);
      expect(await alice.request({ type: 'presence' }, 'presence')).toEqual({
        type: 'presence',
        roomId: 'small',
        users: ['u0', 'u1', 'u2'].map((userId) => ({
          userId,
          connections: 1,
          since: expect.any(String),
        })),
        count: 3,
        truncated: false,
      });
    });

    it('answers repeated presence within PRESENCE_CACHE_MS from one read of the store', async () => {
      const reads = { members: 0 };
      await start({ PRESENCE_CACHE_MS: 60_000 }, { override: countingStore(reads) });
      const askers = await fill('lobby', 3);
      const answers = await Promise.all(
        askers.flatMap((client) =>
          Array.from({ length: 5 }, () => client.request({ type: 'presence' }, 'presence')),
        ),
      );
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
      expect(reads.members).toBe(1);
      // Another room is another entry.
      await askers[0].request({ type: 'presence', roomId: 'elsewhere' }, 'presence');
      expect(reads.members).toBe(2);
    });

    it('reads the store again once PRESENCE_CACHE_MS has passed, and for every request with 0', async () => {
      const reads = { members: 0 };
      // Asked in a loop: PRESENCE_COST 1 keeps the loop within the rate limit.
      await start({ PRESENCE_CACHE_MS: 100, PRESENCE_COST: 1 }, { override: countingStore(reads) });
      const [alice] = await fill('lobby', 1);
      await alice.request({ type: 'presence' }, 'presence');
      await fill('lobby', 1, 1);
      const fresh = await eventually(
        'a presence answer that shows the second user',
        async () => (await alice.request({ type: 'presence' }, 'presence')).count,
        { done: (count) => count === 2 },
      );
      expect(fresh).toBe(2);
      expect(reads.members).toBeGreaterThanOrEqual(2);

      await server!.close();
      server = undefined;
      reads.members = 0;
      await start({ PRESENCE_CACHE_MS: 0 }, { override: countingStore(reads) });
      const [bob] = await fill('lobby', 1);
      for (let i = 0; i < 3; i++) await bob.request({ type: 'presence' }, 'presence');
      expect(reads.members).toBe(3);
    });
  });

  describe('message costs', () => {
    const limits = { RATE_LIMIT_PER_SECOND: 1, RATE_LIMIT_BURST: 10, ABUSE_ERRORS_MAX: 100 };

    it('takes PRESENCE_COST tokens for a presence', async () => {
      await start({ ...limits, PRESENCE_COST: 5 });
      const alice = await TestClient.connect(`${server!.wsUrl}/?userId=alice`);
      await alice.next('joined'); // joined through the URL: no token taken
      const replies: Frame[] = [];
      for (let i = 0; i < 3; i++) replies.push(await alice.request({ type: 'presence' }));
      clients.push(alice);
      expect(replies.map((r) => r.type)).toEqual(['presence', 'presence', 'error']);
      expect(replies[2]).toEqual(errorFrame('rate_limited'));
    });

    it('takes SWITCH_COST tokens for a switch_room and for a join', async () => {
      await start({ ...limits, SWITCH_COST: 5 });
      const alice = await TestClient.connect(`${server!.wsUrl}/?userId=alice`);
      clients.push(alice);
      await alice.next('joined');
      const switched = await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'r1' });
      const joined = await alice.request({ type: 'join', userId: 'alice', roomId: 'r2' });
      const refused = await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'r3' });
      expect([switched.type, joined.type]).toEqual(['joined', 'joined']);
      expect(refused).toEqual(errorFrame('rate_limited'));
    });
  });

  describe('joins and leaves of a room over JOIN_LEAVE_MAX_MEMBERS', () => {
    it('builds a 250-member room with a presence_diff per interval instead of ~31,000 user_joined', async () => {
      const INTERVAL = 200;
      await start({ JOIN_LEAVE_MAX_MEMBERS: 20, PRESENCE_DIFF_INTERVAL_MS: INTERVAL });
      const startedAt = Date.now();
      const members = await fill('big', 250);
      // Everyone has heard of everyone once the first member's diffs reach the full count.
      await eventually(
        'a presence_diff with count 250',
        () => members[0].unread('presence_diff').some((f) => f.count === 250),
        15_000,
      );
      const intervals = (Date.now() - startedAt) / INTERVAL;

      const userJoined = members.reduce((n, c) => n + c.unread('user_joined').length, 0);
      const diffs = members.map((c) => c.unread('presence_diff').length);
      // One frame per join up to the limit (20 · 19 / 2 = 190), a little more while a room's size
      // is first read; ~31,000 without aggregation.
      expect(userJoined).toBeLessThan(1_000);
      // At most one diff per interval for each member.
      expect(Math.max(...diffs)).toBeLessThanOrEqual(Math.ceil(intervals) + 1);

      // What the first member heard adds up to the room.
      const known = new Set<string>();
      for (const frame of members[0].unread()) {
        if (frame.type === 'user_joined') known.add(frame.userId as string);
        if (frame.type === 'presence_diff') {
          for (const userId of frame.joined as string[]) known.add(userId);
          for (const userId of frame.left as string[]) known.delete(userId);
        }
      }
      known.add('u0');
      expect(known.size).toBe(250);
    });

    it('announces leaves in the next diff and leaves out a user who joined and left within one', async () => {
      await start({ JOIN_LEAVE_MAX_MEMBERS: 5, PRESENCE_DIFF_INTERVAL_MS: 300 });
      const members = await fill('big', 10);
      const watcher = members[0];
      await eventually('the diff of the first ten', () =>
        watcher.unread('presence_diff').some((f) => f.count === 10),
      );
      watcher.inbox.length = 0;
      const [passing] = await fill('big', 1, 100);
      await passing.close();
      await members[9].close();
      const diff = await watcher.next('presence_diff');
      expect(diff).toEqual({
        type: 'presence_diff',
        roomId: 'big',
        joined: [],
        left: ['u9'],
        count: 9,
      });
      expect(watcher.unread('user_joined')).toEqual([]);
      expect(watcher.unread('user_left')).toEqual([]);
    });
  });
});

/** Counts the store's `members` reads (presence), whichever store the app builds. */
function countingStore(reads: { members: number }) {
  return wrappedProvider(
    RoomStore,
    (store) =>
      new Proxy(store, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key, target);
          if (key !== 'members' || typeof value !== 'function') return value;
          return (...args: unknown[]): unknown => {
            reads.members += 1;
            return Reflect.apply(value, target, args);
          };
        },
      }),
  );
}
