import type { Publication } from '../../src/rooms/publication';
import { eventually } from '../support/eventually';
import type { RoomBroker } from '../../src/rooms/room-broker';
import type { RoomStore } from '../../src/rooms/room-store';

/** A store and the broker it announces on, as one instance has them. */
export interface RoomStoreUnderTest {
  store: RoomStore;
  broker: RoomBroker;
}

/** Lets the clock move on, so two arrivals get different times. */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/**
 * The behaviour every RoomStore must have, run against each implementation (in memory, Redis).
 * `create` returns an empty store with the broker it announces on; `dispose` releases them.
 */
export function describeRoomStoreContract<T extends RoomStoreUnderTest>(
  name: string,
  create: () => Promise<T>,
  dispose: (underTest: T) => Promise<void> = () => Promise.resolve(),
): void {
  describe(`RoomStore contract: ${name}`, () => {
    let underTest: T;
    let store: RoomStore;
    const alice1 = { userId: 'alice', connectionId: 'c-alice-1' };
    const alice2 = { userId: 'alice', connectionId: 'c-alice-2' };
    const bob = { userId: 'bob', connectionId: 'c-bob-1' };

    /** The room's users, as presence lists them (more than any case adds). */
    const usersOf = async (roomId: string) => (await store.members(roomId, 100)).users;

    beforeEach(async () => {
      underTest = await create();
      store = underTest.store;
    });

    afterEach(async () => {
      await dispose(underTest);
    });

    it('announces on the room’s stream a user’s first arrival and last departure, nothing else', async () => {
      const { broker } = underTest;
      const seen: Publication[] = [];
      broker.onPublication((publication) => seen.push(publication));
      await broker.subscribe('lobby');
      try {
        await store.add('lobby', alice1);
        await store.add('lobby', alice2);
        await store.add('lobby', bob);
        await store.remove('lobby', alice1);
        await store.remove('lobby', alice2);
        await store.remove('lobby', bob);
        await store.remove('lobby', bob);
        const end = await broker.publish('lobby', { kind: 'frame', frame: '"end"' });
        await eventually(
          () => `the end marker; seen ${JSON.stringify(seen)}`,
          () => seen.some((p) => p.offset === end.offset),
        );
        expect(seen.map((p) => p.data)).toEqual([
          { kind: 'join', userId: 'alice', at: expect.any(Number) },
          { kind: 'join', userId: 'bob', at: expect.any(Number) },
          { kind: 'leave', userId: 'alice', at: expect.any(Number) },
          { kind: 'leave', userId: 'bob', at: expect.any(Number) },
          { kind: 'frame', frame: '"end"' },
        ]);
        const offsets = seen.map((p) => p.offset);
        expect(offsets).toEqual(offsets.map((_, i) => offsets[0] + i));
        expect(new Set(seen.map((p) => p.epoch)).size).toBe(1);
      } finally {
        await broker.unsubscribe('lobby');
      }
    });

    it('creates a room on its first join and reports the user as new', async () => {
      expect(await store.add('lobby', alice1)).toMatchObject({ firstOfUser: true });
      expect(await store.roomCount()).toBe(1);
      expect(await usersOf('lobby')).toEqual([
        { userId: 'alice', connections: 1, since: expect.any(Date) },
      ]);
    });

    it('reads the room’s position with the change when it gives one: where a joiner starts', async () => {
      const { broker } = underTest;
      const added = await store.add('lobby', alice1);
      const again = await store.add('lobby', alice2);
      for (const { position } of [added, again]) {
        if (position === undefined) continue;
        expect(position).toEqual((await broker.history('lobby', { limit: 0 })).position);
      }
    });

    it('reports a second connection of the same user as not new', async () => {
      await store.add('lobby', alice1);
      expect(await store.add('lobby', alice2)).toMatchObject({ firstOfUser: false });
      expect(await usersOf('lobby')).toEqual([
        { userId: 'alice', connections: 2, since: expect.any(Date) },
      ]);
    });

    it('treats adding the same connection twice as a no-op', async () => {
      await store.add('lobby', alice1);
      expect(await store.add('lobby', alice1)).toMatchObject({ firstOfUser: false });
      expect((await usersOf('lobby'))[0].connections).toBe(1);
    });

    it('reports the last connection of a user leaving, and only that one', async () => {
      await store.add('lobby', alice1);
      await store.add('lobby', alice2);
      await store.add('lobby', bob);
      expect(await store.remove('lobby', alice1)).toEqual({
        lastOfUser: false,
        roomDeleted: false,
      });
      expect(await store.remove('lobby', alice2)).toEqual({ lastOfUser: true, roomDeleted: false });
      expect((await usersOf('lobby')).map((m) => m.userId)).toEqual(['bob']);
    });

    it('deletes the room when the last member leaves', async () => {
      await store.add('lobby', alice1);
      await store.add('lobby', bob);
      await store.remove('lobby', alice1);
      expect(await store.remove('lobby', bob)).toEqual({ lastOfUser: true, roomDeleted: true });
      expect(await store.roomCount()).toBe(0);
      expect(await usersOf('lobby')).toEqual([]);
    });

    it('ignores removing a connection that is not in the room', async () => {
      await store.add('lobby', alice1);
      expect(await store.remove('lobby', bob)).toEqual({ lastOfUser: false, roomDeleted: false });
      expect(await store.remove('elsewhere', alice1)).toEqual({
        lastOfUser: false,
        roomDeleted: false,
      });
      expect(await store.roomCount()).toBe(1);
    });

    it('counts the users of a room, each once however many connections they have', async () => {
      expect(await store.count('lobby')).toBe(0);
      await store.add('lobby', alice1);
      await store.add('lobby', alice2);
      await store.add('lobby', bob);
      expect(await store.count('lobby')).toBe(2);
      await store.remove('lobby', alice1);
      expect(await store.count('lobby')).toBe(2);
      await store.remove('lobby', alice2);
      expect(await store.count('lobby')).toBe(1);
      expect(await store.count('elsewhere')).toBe(0);
    });

    it('keeps rooms apart', async () => {
      await store.add('a', alice1);
      await store.add('b', bob);
      expect((await usersOf('a')).map((m) => m.userId)).toEqual(['alice']);
      expect((await usersOf('b')).map((m) => m.userId)).toEqual(['bob']);
      expect(await store.roomCount()).toBe(2);
    });

    it('lists members in the order they arrived', async () => {
      await store.add('lobby', bob);
      await tick();
      await store.add('lobby', alice1);
      expect((await usersOf('lobby')).map((m) => m.userId)).toEqual(['bob', 'alice']);
    });

    it('counts each user’s connections, per user and per room', async () => {
      await store.add('lobby', alice1);
      await store.add('lobby', alice2);
      await store.add('lobby', bob);
      await store.add('kitchen', { userId: 'alice', connectionId: 'c-alice-3' });
      expect(await usersOf('lobby')).toEqual([
        { userId: 'alice', connections: 2, since: expect.any(Date) },
        { userId: 'bob', connections: 1, since: expect.any(Date) },
      ]);
      expect(await usersOf('kitchen')).toEqual([
        { userId: 'alice', connections: 1, since: expect.any(Date) },
      ]);
      expect(await store.roomCount()).toBe(2);
    });

    it('reports a user’s last connection per room: leaving one room keeps them in another', async () => {
      const aliceInKitchen = { userId: 'alice', connectionId: 'c-alice-3' };
      await store.add('lobby', alice1);
      await store.add('kitchen', aliceInKitchen);
      expect(await store.remove('lobby', alice1)).toEqual({ lastOfUser: true, roomDeleted: true });
      expect((await usersOf('kitchen')).map((m) => m.userId)).toEqual(['alice']);
      expect(await store.roomCount()).toBe(1);
    });

    it('dates a user from their arrival, on the wall clock', async () => {
      const before = Date.now();
      await store.add('lobby', alice1);
      const after = Date.now();
      const [{ since }] = await usersOf('lobby');
      // Whole milliseconds on both sides; a store may read a clock of its own (Redis' TIME).
      expect(since.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(since.getTime()).toBeLessThanOrEqual(after + 1000);
    });

    it('keeps a user’s since while any of their connections remains', async () => {
      await store.add('lobby', alice1);
      const [first] = await usersOf('lobby');
      await tick();
      await store.add('lobby', alice2);
      await store.remove('lobby', alice1);
      expect(await usersOf('lobby')).toEqual([
        { userId: 'alice', connections: 1, since: first.since },
      ]);
    });

    it('dates a user who left and came back from the return, after those who stayed', async () => {
      await store.add('lobby', alice1);
      await tick();
      await store.add('lobby', bob);
      const [before] = await usersOf('lobby');
      await store.remove('lobby', alice1);
      await tick();
      await store.add('lobby', alice2);
      const members = await usersOf('lobby');
      expect(members.map((m) => m.userId)).toEqual(['bob', 'alice']);
      expect(members[1].since.getTime()).toBeGreaterThan(before.since.getTime());
    });

    it('keeps rooms whose ids share a prefix or contain separators apart', async () => {
      const rooms = ['a', 'a:b', 'a:b:c', ':', 'rooms', 'instances', 'lobby@x.y-z_1'];
      for (const [i, roomId] of rooms.entries()) {
        await store.add(roomId, { userId: `u${i}`, connectionId: `c${i}` });
      }
      expect(await store.roomCount()).toBe(rooms.length);
      for (const [i, roomId] of rooms.entries()) {
        expect((await usersOf(roomId)).map((m) => m.userId)).toEqual([`u${i}`]);
      }
      for (const [i, roomId] of rooms.entries()) {
        expect(await store.remove(roomId, { userId: `u${i}`, connectionId: `c${i}` })).toEqual({
          lastOfUser: true,
          roomDeleted: true,
        });
      }
      expect(await store.roomCount()).toBe(0);
    });

    it('ignores removing a connection under another user’s name', async () => {
      await store.add('lobby', alice1);
      await store.add('lobby', bob);
      expect(await store.remove('lobby', { userId: 'bob', connectionId: 'c-alice-1' })).toEqual({
        lastOfUser: false,
        roomDeleted: false,
      });
      expect(await usersOf('lobby')).toEqual([
        { userId: 'alice', connections: 1, since: expect.any(Date) },
        { userId: 'bob', connections: 1, since: expect.any(Date) },
      ]);
    });

    it('keeps its state through many joins and leaves in any order', async () => {
      const refs = Array.from({ length: 30 }, (_, i) => ({
        userId: `u${i % 7}`,
        connectionId: `c${i}`,
      }));
      await Promise.all(refs.map((ref) => store.add('lobby', ref)));
      expect((await usersOf('lobby')).reduce((n, m) => n + m.connections, 0)).toBe(30);
      const results = await Promise.all(refs.map((ref) => store.remove('lobby', ref)));
      expect(results.filter((r) => r.lastOfUser)).toHaveLength(7);
      expect(results.filter((r) => r.roomDeleted)).toHaveLength(1);
      expect(await usersOf('lobby')).toEqual([]);
      expect(await store.roomCount()).toBe(0);
    });

    it('reads the oldest `limit` users and the room’s count, not the rest', async () => {
      for (let i = 0; i < 5; i += 1) {
        await store.add('lobby', { userId: `u${i}`, connectionId: `c${i}` });
        await tick();
      }
      await store.add('lobby', { userId: 'u0', connectionId: 'c0-second' });
      const read = await store.members('lobby', 3);
      expect(read.count).toBe(5);
      expect(read.users.map((m) => [m.userId, m.connections])).toEqual([
        ['u0', 2],
        ['u1', 1],
        ['u2', 1],
      ]);
      expect(await store.members('lobby', 0)).toEqual({ users: [], count: 5 });
      expect(await store.members('elsewhere', 3)).toEqual({ users: [], count: 0 });
      for (let i = 0; i < 5; i += 1) {
        await store.remove('lobby', { userId: `u${i}`, connectionId: `c${i}` });
      }
      await store.remove('lobby', { userId: 'u0', connectionId: 'c0-second' });
    });

    it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
      'handles a room and user named %s like any other',
      async (id) => {
        expect(await store.add(id, { userId: id, connectionId: 'c1' })).toMatchObject({
          firstOfUser: true,
        });
        expect(await usersOf(id)).toEqual([
          { userId: id, connections: 1, since: expect.any(Date) },
        ]);
        expect(await store.remove(id, { userId: id, connectionId: 'c1' })).toEqual({
          lastOfUser: true,
          roomDeleted: true,
        });
        expect(await store.roomCount()).toBe(0);
      },
    );
  });
}
