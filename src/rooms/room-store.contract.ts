import type { RoomStore } from './room-store';

/**
 * The behaviour every RoomStore must have, run against each implementation (in memory now,
 * Redis later). `create` returns an empty store; `dispose` releases it.
 */
export function describeRoomStoreContract(
  name: string,
  create: () => Promise<RoomStore>,
  dispose: (store: RoomStore) => Promise<void> = () => Promise.resolve(),
): void {
  describe(`RoomStore contract: ${name}`, () => {
    let store: RoomStore;
    const alice1 = { userId: 'alice', connectionId: 'c-alice-1' };
    const alice2 = { userId: 'alice', connectionId: 'c-alice-2' };
    const bob = { userId: 'bob', connectionId: 'c-bob-1' };

    beforeEach(async () => {
      store = await create();
    });

    afterEach(async () => {
      await dispose(store);
    });

    it('creates a room on its first join and reports the user as new', async () => {
      expect(await store.add('lobby', alice1)).toEqual({ firstOfUser: true });
      expect(await store.roomCount()).toBe(1);
      expect(await store.members('lobby')).toEqual([
        { userId: 'alice', connections: 1, since: expect.any(Date) },
      ]);
    });

    it('reports a second connection of the same user as not new', async () => {
      await store.add('lobby', alice1);
      expect(await store.add('lobby', alice2)).toEqual({ firstOfUser: false });
      expect(await store.members('lobby')).toEqual([
        { userId: 'alice', connections: 2, since: expect.any(Date) },
      ]);
    });

    it('treats adding the same connection twice as a no-op', async () => {
      await store.add('lobby', alice1);
      expect(await store.add('lobby', alice1)).toEqual({ firstOfUser: false });
      expect((await store.members('lobby'))[0].connections).toBe(1);
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
      expect((await store.members('lobby')).map((m) => m.userId)).toEqual(['bob']);
    });

    it('deletes the room when the last member leaves', async () => {
      await store.add('lobby', alice1);
      await store.add('lobby', bob);
      await store.remove('lobby', alice1);
      expect(await store.remove('lobby', bob)).toEqual({ lastOfUser: true, roomDeleted: true });
      expect(await store.roomCount()).toBe(0);
      expect(await store.members('lobby')).toEqual([]);
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

    it('keeps rooms apart', async () => {
      await store.add('a', alice1);
      await store.add('b', bob);
      expect((await store.members('a')).map((m) => m.userId)).toEqual(['alice']);
      expect((await store.members('b')).map((m) => m.userId)).toEqual(['bob']);
      expect(await store.roomCount()).toBe(2);
    });

    it('lists members in the order they arrived', async () => {
      await store.add('lobby', bob);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.add('lobby', alice1);
      expect((await store.members('lobby')).map((m) => m.userId)).toEqual(['bob', 'alice']);
    });

    it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
      'handles a room and user named %s like any other',
      async (id) => {
        expect(await store.add(id, { userId: id, connectionId: 'c1' })).toEqual({
          firstOfUser: true,
        });
        expect(await store.members(id)).toEqual([
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
