import Redis from 'ioredis';
import { MEMBERSHIP_BATCH } from '../src/redis/redis-room-store';
import type { Publication } from '../src/rooms/publication';
import { eventually } from './support/eventually';
import { MembershipInstance, forEachOf, membershipInstance } from './support/membership-instances';
import { RedisServer, describeWithRedis } from './support/redis-server';

/*
 * No membership script call carries more than a bounded number of arguments, whatever the
 * instance holds: an instance holding 2,500 members of one room (more than two batches) and 200
 * in 20 rooms resyncs after Redis lost its data, is expired after a crash, and stops gracefully,
 * each in batches of at most MEMBERSHIP_BATCH entries.
 */

/** Keys (8), common arguments (4), the membership ones (3), the mode, two per entry. */
const MAX_ARGUMENTS = 16 + 2 * MEMBERSHIP_BATCH;
const BIG = 2_500;
const SMALL_ROOMS = 20;
const SMALL = 10;
const rooms = ['big', ...Array.from({ length: SMALL_ROOMS }, (_, i) => `small-${i}`)];

describeWithRedis('membership in bounded batches', () => {
  let server: RedisServer;
  let admin: Redis;
  let prefixes = 0;
  const started: MembershipInstance[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url);
  });

  afterEach(async () => {
    for (const instance of started.splice(0)) await instance.stop();
  });

  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  async function instance(prefix: string): Promise<MembershipInstance> {
    const created = await membershipInstance(server.url, {
      REDIS_KEY_PREFIX: prefix,
      PRESENCE_TTL_MS: 1_500,
    });
    started.push(created);
    return created;
  }

  /** `big` gets BIG users, each small room SMALL; user ids are unique per room. */
  async function populate(instance: MembershipInstance): Promise<void> {
    await forEachOf(BIG, 50, (i) =>
      instance.store.add('big', { userId: `u${i}`, connectionId: `c${i}` }),
    );
    await forEachOf(SMALL_ROOMS * SMALL, 50, (i) =>
      instance.store.add(`small-${i % SMALL_ROOMS}`, { userId: `u${i}`, connectionId: `s${i}` }),
    );
  }

  /** A second instance holding a watcher in every room, subscribed to them all. */
  async function watcher(prefix: string): Promise<MembershipInstance> {
    const watching = await instance(prefix);
    for (const roomId of rooms) {
      await watching.broker.subscribe(roomId);
      await watching.store.add(roomId, { userId: 'watcher', connectionId: `w-${roomId}` });
    }
    return watching;
  }

  const leaves = (received: Publication[], roomId: string): string[] =>
    received
      .filter((p) => p.roomId === roomId && p.data.kind === 'leave')
      .map((p) => (p.data.kind === 'leave' ? p.data.userId : ''));

  async function allLeft(watching: MembershipInstance): Promise<void> {
    await eventually(
      'every user of the instance announced as gone',
      async () => {
        for (const roomId of rooms) {
          if ((await watching.store.count(roomId)) !== 1) return false;
        }
        return leaves(watching.received, 'big').length === BIG;
      },
      60_000,
    );
    // Once each.
    expect(new Set(leaves(watching.received, 'big')).size).toBe(BIG);
    expect(leaves(watching.received, 'small-3')).toHaveLength(SMALL);
  }

  it('resyncs after Redis lost its data, then is expired after a crash, in bounded batches', async () => {
    const prefix = `batches-${process.pid}-${++prefixes}:`;
    const watching = await watcher(prefix);
    const holder = await instance(prefix);
    await populate(holder);
    expect(await holder.store.count('big')).toBe(BIG + 1);

    await admin.flushall();
    await eventually(
      'both instances registered again',
      async () => (await holder.store.count('big')) === BIG + 1,
      60_000,
    );
    // The resync of `big` took several calls, each within the bound.
    expect(holder.scriptCalls.filter((n) => n > MEMBERSHIP_BATCH).length).toBeGreaterThanOrEqual(2);

    holder.crash();
    started.splice(started.indexOf(holder), 1);
    await allLeft(watching);
    for (const instance of [holder, watching]) {
      expect(instance.maxScriptArguments()).toBeLessThanOrEqual(MAX_ARGUMENTS);
    }
  }, 120_000);

  it('leaves on a graceful stop in bounded batches', async () => {
    const prefix = `batches-${process.pid}-${++prefixes}:`;
    const watching = await watcher(prefix);
    const holder = await instance(prefix);
    await populate(holder);
    started.splice(started.indexOf(holder), 1);
    await holder.stop();
    await allLeft(watching);
    for (const instance of [holder, watching]) {
      expect(instance.maxScriptArguments()).toBeLessThanOrEqual(MAX_ARGUMENTS);
    }
  }, 120_000);
});
