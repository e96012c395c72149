import type { UserConnections } from '../../src/auth/user-connections';

export interface UserConnectionsFixture {
  counter: UserConnections;
  stop(): Promise<void>;
}

/**
 * The UserConnections contract, run against every implementation: a user holds at most `max`
 * counted connections, a connection counts once, and a release gives its place back.
 */
export function describeUserConnectionsContract(
  name: string,
  start: () => Promise<UserConnectionsFixture>,
): void {
  describe(`UserConnections contract (${name})`, () => {
    let fixture: UserConnectionsFixture;
    let counter: UserConnections;

    beforeEach(async () => {
      fixture = await start();
      counter = fixture.counter;
    });

    afterEach(() => fixture.stop());

    it('counts a user’s connections up to max and refuses one more', async () => {
      expect(await counter.acquire('alice', 'c1', 2)).toBe(true);
      expect(await counter.acquire('alice', 'c2', 2)).toBe(true);
      expect(await counter.acquire('alice', 'c3', 2)).toBe(false);
      expect(await counter.count('alice')).toBe(2);
    });

    it('counts the same connection once', async () => {
      expect(await counter.acquire('alice', 'c1', 1)).toBe(true);
      expect(await counter.acquire('alice', 'c1', 1)).toBe(true);
      expect(await counter.count('alice')).toBe(1);
    });

    it('gives a released connection’s place back', async () => {
      await counter.acquire('alice', 'c1', 1);
      await counter.release('alice', 'c1');
      expect(await counter.count('alice')).toBe(0);
      expect(await counter.acquire('alice', 'c2', 1)).toBe(true);
    });

    it('ignores a release of a connection never counted, or released already', async () => {
      await counter.acquire('alice', 'c1', 2);
      await counter.release('alice', 'nope');
      await counter.release('bob', 'c1');
      await counter.release('alice', 'c1');
      await counter.release('alice', 'c1');
      expect(await counter.count('alice')).toBe(0);
    });

    it('counts each user apart', async () => {
      expect(await counter.acquire('alice', 'c1', 1)).toBe(true);
      expect(await counter.acquire('bob', 'c2', 1)).toBe(true);
      expect(await counter.count('bob')).toBe(1);
    });
  });
}
