import { RoomHub } from '../src/rooms/room-hub';
import { eventually } from './support/eventually';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { RunningApp, startApp } from './support/test-app';
import { Frame, TestClient, joinedClient } from './support/test-client';

/*
 * Presence and join/leave aggregation across two instances on one Redis (issue "Hold under
 * attacks that stay inside every limit", item 2): a room's size is cluster-wide, so a room large
 * across the cluster is announced by presence_diff on both instances, with the cluster-wide
 * count, and a presence answer is capped whichever instance answers it.
 */

const USERS = 30;

/** The users `client` knows are in its room, from user_joined, user_left and presence_diff. */
function heardOf(client: TestClient): Set<string> {
  const known = new Set<string>();
  for (const frame of client.unread()) {
    if (frame.type === 'user_joined') known.add(frame.userId as string);
    if (frame.type === 'user_left') known.delete(frame.userId as string);
    if (frame.type === 'presence_diff') {
      for (const userId of frame.joined as string[]) known.add(userId);
      for (const userId of frame.left as string[]) known.delete(userId);
    }
  }
  return known;
}

describeWithRedis('presence and presence_diff on two instances', () => {
  let redis: RedisServer;
  let servers: RunningApp[] = [];
  let clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    clients = [];
    await eventually('the instances to process the closes', () =>
      servers.every((server) => server.app.get(RoomHub).memberCount === 0),
    );
    await Promise.all(servers.map((server) => server.close()));
    servers = [];
  });

  it('announces a room large across the cluster by presence_diff on both instances, with the cluster-wide count', async () => {
    const config = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `presence-${process.pid}:`,
      JOIN_LEAVE_MAX_MEMBERS: 10,
      PRESENCE_DIFF_INTERVAL_MS: 200,
      PRESENCE_MAX_USERS: 5,
    };
    servers = await Promise.all([startApp(config), startApp(config)]);
    const [a, b] = servers;
    // The watchers first, one after the other: a member hears of the joins after its own.
    const onA = await joinedClient(a.wsUrl, 'u0', 'big');
    const onB = await joinedClient(b.wsUrl, 'u1', 'big');
    clients.push(onA, onB);
    for (let i = 2; i < USERS; i += 2) {
      const pair = await Promise.all([
        joinedClient(a.wsUrl, `u${i}`, 'big'),
        joinedClient(b.wsUrl, `u${i + 1}`, 'big'),
      ]);
      clients.push(...pair);
    }
    for (const watcher of [onA, onB]) {
      await eventually('a presence_diff with the cluster-wide count', () =>
        watcher.unread('presence_diff').some((f: Frame) => f.count === USERS),
      );
    }
    const everyone = Array.from({ length: USERS }, (_, i) => `u${i}`);
    expect([...heardOf(onA), 'u0'].sort()).toEqual([...everyone].sort());
    expect([...heardOf(onB), 'u0', 'u1'].sort()).toEqual([...everyone].sort());
    // Without aggregation the room would have sent 30 · 29 / 2 = 435 user_joined.
    const userJoined = clients.reduce((n, c) => n + c.unread('user_joined').length, 0);
    expect(userJoined).toBeLessThan(200);

    const answer = await onB.request({ type: 'presence' }, 'presence');
    expect(answer.count).toBe(USERS);
    expect(answer.truncated).toBe(true);
    expect((answer.users as { userId: string }[]).map((u) => u.userId)).toEqual(
      everyone.slice(0, 5),
    );
  });
});
