import Redis from 'ioredis';
import { eventually } from './support/eventually';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient, joinedClient } from './support/test-client';

/*
 * No half delivery: while Redis stalls (SIGSTOP: connections open, no answers) under two
 * instances chatting in one room, every message is either in every member's stream and in the
 * room's history, or refused to its sender with a retryable `unavailable`, never seen by the
 * members of one instance only.
 */

/** Bound for cross-instance delivery to resume after Redis does (reconnect backoff tops at 2 s). */
const RECOVERY_MS = 15_000;

const API_KEY = 'test-api-key-0123456789';

const isChatFrame = (content: string) => (frame: Frame) =>
  frame.type === 'chat_message' && frame.content === content;

describeWithRedis('no half delivery', () => {
  let redis: RedisServer;
  const apps: RunningApp[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)));
    await redis?.stop();
  });

  async function redisPid(): Promise<number> {
    const view = new Redis(redis.url, { lazyConnect: true });
    await view.connect();
    const pid = Number(/process_id:(\d+)/.exec(await view.info('server'))?.[1]);
    view.disconnect();
    return pid;
  }

  it('delivers each message sent during a Redis stall to the whole room and its history, or refuses it', async () => {
    const settings = {
      ...PROTOCOL_TEST_LIMITS,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `half${process.pid}:`,
      HISTORY_SIZE: 1_000,
    };
    const [a, b] = [await startApp(settings), await startApp(settings)];
    apps.push(a, b);
    const alice = await joinedClient(a.wsUrl, 'alice', 'r');
    const carol = await joinedClient(a.wsUrl, 'carol', 'r');
    const bob = await joinedClient(b.wsUrl, 'bob', 'r');
    clients.push(alice, carol, bob);
    await alice.next('user_joined');
    await alice.next('user_joined');
    const members = { alice, carol, bob };
    const senders: [string, TestClient][] = [
      ['alice', alice],
      ['bob', bob],
    ];

    const pid = await redisPid();
    process.kill(pid, 'SIGSTOP');
    const refused = new Set<string>();
    const sent: string[] = [];
    try {
      // One message at a time, alternating instances: each gets its outcome, an echo (published)
      // or `unavailable` (refused), before the next is sent.
      for (let i = 0; i < 8; i++) {
        const [userId, sender] = senders[i % 2];
        const content = `stall-${userId}-${i}`;
        sent.push(content);
        const outcome = await sender.request(
          { type: 'chat_message', userId, content },
          (f) => isChatFrame(content)(f) || f.type === 'error',
        );
        if (outcome.type === 'error') {
          expect(outcome).toMatchObject({ code: 'unavailable', retryable: true });
          refused.add(content);
        }
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(refused.size).toBeGreaterThan(0);

    // Once cross-instance delivery is back, a final message reaches everyone: a room's frames
    // arrive in order, so whatever of the stall was published has arrived before it.
    let probes = 0;
    await eventually(
      'a message from A to reach every member after the stall',
      async () => {
        const content = `after-${++probes}`;
        const outcome = await alice.request(
          { type: 'chat_message', userId: 'alice', content },
          (f) => isChatFrame(content)(f) || f.type === 'error',
        );
        if (outcome.type === 'error') return false;
        return bob.next(isChatFrame(content), 2_000).then(
          () => true,
          () => false,
        );
      },
      { timeoutMs: RECOVERY_MS, intervalMs: 200 },
    );
    const last = `after-${probes}`;
    await carol.next(isChatFrame(last));

    const history = await alice.request({ type: 'history', roomId: 'r', limit: 1_000 }, 'history');
    const inHistory = new Set(
      (history.messages as Frame[]).map((m) => m.content).filter((c) => c !== undefined),
    );
    const outcomes = sent.map((content) => {
      const copies = Object.values(members).map(
        (member) => member.inbox.filter(isChatFrame(content)).length,
      );
      const everywhere = copies.every((n) => n === 1) && inHistory.has(content);
      const nowhere = copies.every((n) => n === 0) && !inHistory.has(content);
      return {
        content,
        copies,
        refused: refused.has(content),
        inHistory: inHistory.has(content),
        ok: everywhere || (nowhere && refused.has(content)),
      };
    });
    // One comparison, so a failure shows every message's fate at once.
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  }, 60_000);

  it('answers an event Redis cannot take with 503 unavailable, shown to no follower', async () => {
    const own = await RedisServer.start();
    try {
      const app = await startApp({
        ...PROTOCOL_TEST_LIMITS,
        API_KEY,
        REDIS_URL: own.url,
        REDIS_KEY_PREFIX: `half503${process.pid}:`,
      });
      apps.push(app);
      const follower = await TestClient.connect(app.wsUrl);
      clients.push(follower);
      const joined = await follower.request(
        { type: 'rpc', method: 'join_room', params: { room: 'workspace:w1' }, correlation_id: 'j' },
        'response',
      );
      expect(joined).toMatchObject({ result: { room: 'workspace:w1' } });
      await own.stop();
      const call = {
        method: 'workspace.state_changed',
        params: { workspace_id: 'w1', state: 'during the outage' },
        correlation_id: 'c-1',
      };
      const response = await eventually(
        'the instance to notice Redis is gone',
        () =>
          fetch(`${app.httpUrl}/api/rpc`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
            body: JSON.stringify(call),
          }),
        { done: (r) => r.status !== 200, intervalMs: 100 },
      );
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        success: false,
        error_code: 'unavailable',
        error: { code: 'unavailable', retryable: true },
      });
      expect(follower.unread('event')).toEqual([]);
      // Redis back, so that the app closes connected (a client left reconnecting keeps Jest up).
      await own.restart();
      await eventually(
        'the instance to be ready again',
        async () => (await fetch(`${app.httpUrl}/health/ready`)).status === 200,
        RECOVERY_MS,
      );
      follower.terminate();
      apps.splice(apps.indexOf(app), 1);
      await app.close();
    } finally {
      await own.stop();
    }
  }, 30_000);

  it('answers notification.send and user.disconnect with 503 unavailable while Redis is away, never a stored internal_error', async () => {
    const own = await RedisServer.start();
    try {
      const app = await startApp({
        ...PROTOCOL_TEST_LIMITS,
        API_KEY,
        REDIS_URL: own.url,
        REDIS_KEY_PREFIX: `half503u${process.pid}:`,
      });
      apps.push(app);
      await own.stop();
      const post = (method: string, params: object): Promise<Response> =>
        fetch(`${app.httpUrl}/api/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
          body: JSON.stringify({ method, params }),
        });
      const notify = { user_id: 'u1', title: 't', message: 'm', type: 'info' };
      for (const [method, params] of [
        ['notification.send', notify],
        ['user.disconnect', { user_id: 'u1' }],
      ] as const) {
        const response = await eventually(
          `${method} to fail while Redis is gone`,
          () => post(method, params),
          { done: (r) => r.status !== 200, intervalMs: 100 },
        );
        expect({
          method,
          status: response.status,
          body: (await response.json()) as object,
        }).toMatchObject({
          method,
          status: 503,
          body: { error_code: 'unavailable', error: { retryable: true } },
        });
      }
      await own.restart();
      await eventually(
        'the instance to be ready again',
        async () => (await fetch(`${app.httpUrl}/health/ready`)).status === 200,
        RECOVERY_MS,
      );
      apps.splice(apps.indexOf(app), 1);
      await app.close();
    } finally {
      await own.stop();
    }
  }, 30_000);
});
