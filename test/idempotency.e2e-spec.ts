import { request as httpRequest } from 'node:http';
import type { AppConfig } from '../src/config/app-config';
import { RpcDispatcher } from '../src/rpc/rpc-dispatcher';
import { eventually } from './support/eventually';
import { RedisCluster, describeWithRedisCluster } from './support/redis-cluster';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient, joinedClient } from './support/test-client';

/*
 * Idempotent publishing from outside: every path that publishes (the HTTP API's correlation_id
 * and Idempotency-Key, an RPC frame's idempotency_key, a chat message's messageId) publishes a
 * key once per room within IDEMPOTENCY_WINDOW_MS and answers a resend as the first time. Each
 * case runs in memory and with Redis across two instances (the resend going to the other one).
 * That nothing more was published is shown with a marker published after the resend: a room's
 * frames arrive in order, so once the marker is in, a duplicate sent before it would be too.
 */

const API_KEY = 'test-api-key-0123456789';
let calls = 0;
let rooms = 0;

/** A room of its own for each case. */
const freshRoom = (): string => `w${process.pid}-${++rooms}`;

function post(app: RunningApp, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${app.httpUrl}/api/rpc`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${API_KEY}`,
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

/** Calls a method over the socket; resolves with the answer carrying the call's correlation_id. */
function rpc(client: TestClient, method: string, params: object, extra: object = {}) {
  const correlation_id = `c-${++calls}`;
  return client.request(
    { type: 'rpc', method, params, correlation_id, ...extra },
    (frame) => frame.correlation_id === correlation_id,
  );
}

const stateChanged = (workspace: string, state: string) => ({
  method: 'workspace.state_changed',
  params: { workspace_id: workspace, state },
});

const stateOf = (frame: Frame): string => (frame.data as { state: string }).state;

/** Two instances of one deployment: the same app twice in memory, two apps on one Redis. */
interface Deployment {
  a: RunningApp;
  b: RunningApp;
}

function describeIdempotency(
  name: string,
  start: (settings: Partial<AppConfig>) => Promise<Deployment>,
  stop: () => Promise<void>,
): void {
  describe(`idempotent publishing: ${name}`, () => {
    let deployment: Deployment;
    const clients: TestClient[] = [];
    const track = (client: TestClient): TestClient => (clients.push(client), client);

    beforeAll(async () => {
      deployment = await start({ ...PROTOCOL_TEST_LIMITS, API_KEY });
    });

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.close()));
    });

    afterAll(stop);

    async function follower(app: RunningApp, workspace: string): Promise<TestClient> {
      const client = track(await TestClient.connect(app.wsUrl));
      const room = `workspace:${workspace}`;
      expect(await rpc(client, 'join_room', { room })).toMatchObject({ type: 'response' });
      return client;
    }

    /** Publishes a marker event; returns the states of the events the follower got before it. */
    async function statesUpToMarker(watcher: TestClient, workspace: string): Promise<string[]> {
      const marker = `marker-${++calls}`;
      await post(deployment.a, stateChanged(workspace, marker));
      await watcher.next((f) => f.type === 'event' && stateOf(f) === marker);
      const events = watcher.unread('event');
      // Taken: the next marker's answer holds what came after this one only.
      watcher.inbox.splice(
        0,
        watcher.inbox.length,
        ...watcher.unread().filter((f) => !events.includes(f)),
      );
      return events.map(stateOf);
    }

    it('runs an HTTP call with the same correlation_id once: one event, equal replies', async () => {
      const { a, b } = deployment;
      const workspace = freshRoom();
      const watcher = await follower(b, workspace);
      const call = { ...stateChanged(workspace, 'first'), correlation_id: `corr-${workspace}` };
      const first = await post(a, call);
      const again = await post(b, { ...call, params: { ...call.params, state: 'second' } });
      const [firstBody, againBody] = [await first.json(), await again.json()];
      expect([first.status, again.status]).toEqual([200, 200]);
      expect(againBody).toEqual(firstBody);
      expect(firstBody).toMatchObject({ success: true, result: { offset: expect.any(Number) } });
      expect(await statesUpToMarker(watcher, workspace)).toEqual(['first']);
    });

    it('runs an HTTP call with the same Idempotency-Key once, and each call of a batch once', async () => {
      const { a, b } = deployment;
      const workspace = freshRoom();
      const watcher = await follower(b, workspace);
      const key = { 'idempotency-key': `key-${workspace}` };
      const first = await post(a, stateChanged(workspace, 'single'), key);
      const again = await post(b, stateChanged(workspace, 'single again'), key);
      expect(await again.json()).toEqual(await first.json());

      // A batch under another key: its calls are told apart by their index.
      const batchKey = { 'idempotency-key': `batch-${workspace}` };
      const batch = [stateChanged(workspace, 'one'), stateChanged(workspace, 'two')];
      const firstBatch = (await (await post(a, batch, batchKey)).json()) as Frame[];
      const againBatch = (await (await post(b, batch, batchKey)).json()) as Frame[];
      expect(againBatch).toEqual(firstBatch);
      const [one, two] = firstBatch.map((reply) => reply.result as { offset: number });
      expect(two.offset).toBe(one.offset + 1);
      expect(await statesUpToMarker(watcher, workspace)).toEqual(['single', 'one', 'two']);
    });

    it('refuses an Idempotency-Key longer than 128 characters', async () => {
      const response = await post(deployment.a, stateChanged(freshRoom(), 'x'), {
        'idempotency-key': 'k'.repeat(129),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        error_code: 'invalid_params',
        error: { details: { validation_errors: [{ field: 'Idempotency-Key' }] } },
      });
    });

    it('refuses an Idempotency-Key header given twice (Node would join them into one key, "a, b")', async () => {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const url = new URL(`${deployment.a.httpUrl}/api/rpc`);
        const request = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${API_KEY}`,
              'idempotency-key': ['a', 'b'],
            },
          },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          },
        );
        request.on('error', reject);
        request.end(JSON.stringify(stateChanged(freshRoom(), 'x')));
      });
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({
        error_code: 'invalid_params',
        error: { details: { validation_errors: [{ field: 'Idempotency-Key' }] } },
      });
    });

    it('runs an RPC frame with the same idempotency_key once per user, whatever its correlation_id', async () => {
      const { a, b } = deployment;
      const workspace = freshRoom();
      const watcher = await follower(b, workspace);
      const alice = track(await joinedClient(a.wsUrl, 'alice', `own-${workspace}`));
      const { params } = stateChanged(workspace, 'by alice');
      const key = { idempotency_key: 'k-1' };
      const first = await rpc(alice, 'workspace.state_changed', params, key);
      const again = await rpc(alice, 'workspace.state_changed', params, key);
      expect(again.result).toEqual(first.result);
      expect(first.result).toMatchObject({ offset: expect.any(Number) });
      // The same key from another user is another call.
      const bob = track(await joinedClient(b.wsUrl, 'bob', `own-${workspace}`));
      const byBob = await rpc(
        bob,
        'workspace.state_changed',
        stateChanged(workspace, 'by bob').params,
        key,
      );
      expect(byBob.result).not.toEqual(first.result);
      expect(await statesUpToMarker(watcher, workspace)).toEqual(['by alice', 'by bob']);
      // Without a key every call publishes.
      await rpc(alice, 'workspace.state_changed', params);
      await rpc(alice, 'workspace.state_changed', params);
      expect(await statesUpToMarker(watcher, workspace)).toEqual(['by alice', 'by alice']);
      // A key of null is no key either.
      const none = { idempotency_key: null };
      await rpc(alice, 'workspace.state_changed', params, none);
      await rpc(alice, 'workspace.state_changed', params, none);
      expect(await statesUpToMarker(watcher, workspace)).toEqual(['by alice', 'by alice']);
    });

    it('runs a bridge request once per correlation_id, through the control rooms too', async () => {
      const { a, b } = deployment;
      // As the bridge calls: a backend whose key is the request's correlation_id.
      const bridge = (app: RunningApp, method: string, params: object, key?: string) =>
        app.app.get<RpcDispatcher>(RpcDispatcher).call(method, params, {
          kind: 'backend',
          via: 'redis',
          idempotencyKey: key,
        });
      const tag = freshRoom();
      const user = `u-${tag}`;
      const first = track(await joinedClient(b.wsUrl, user, `own-${tag}`));
      const notify = (title: string) => ({ user_id: user, title, message: 'm', type: 'info' });
      const all = { title: `all-${tag}`, message: 'm', type: 'info' };
      const titles = (): unknown[] =>
        first.unread('notification').map((f) => (f.data as { title: string }).title);

      expect(await bridge(a, 'notification.send', notify('once'), `n-${tag}`)).toEqual(
        await bridge(b, 'notification.send', notify('twice'), `n-${tag}`),
      );
      await bridge(a, 'notification.broadcast', all, `all-${tag}`);
      await bridge(b, 'notification.broadcast', all, `all-${tag}`);
      await bridge(a, 'notification.send', notify('marker'));
      await first.next(
        (f) => f.type === 'notification' && (f.data as { title: string }).title === 'marker',
      );
      expect(titles()).toEqual(['once', `all-${tag}`]);

      // user.disconnect run again must not close the connection the user opened since.
      await bridge(a, 'user.disconnect', { user_id: user }, `d-${tag}`);
      await first.closed;
      const second = track(await joinedClient(b.wsUrl, user, `own-${tag}`));
      await bridge(b, 'user.disconnect', { user_id: user }, `d-${tag}`);
      await bridge(a, 'notification.send', notify('still here'));
      expect(await second.next('notification')).toMatchObject({ data: { title: 'still here' } });
    });

    it('broadcasts a chat message resent with the same messageId once; the sender’s echo is the original', async () => {
      const { a, b } = deployment;
      const room = `chat-${freshRoom()}`;
      const alice = track(await joinedClient(a.wsUrl, 'alice', room));
      const bob = track(await joinedClient(b.wsUrl, 'bob', room));
      await alice.next('user_joined');
      const message = { type: 'chat_message', userId: 'alice', content: 'hi', messageId: 'm-1' };
      const original = await alice.request(message, 'chat_message');
      expect(original).toEqual({
        type: 'chat_message',
        userId: 'alice',
        roomId: room,
        content: 'hi',
        messageId: 'm-1',
        timestamp: expect.any(String),
        offset: expect.any(Number),
        epoch: expect.any(String),
      });
      expect(await bob.next('chat_message')).toEqual(original);
      // Resent (after an `unavailable`, say), even with other content: the original, to alice only.
      const echo = await alice.request({ ...message, content: 'hi again' }, 'chat_message');
      expect(echo).toEqual(original);
      // bob's own message comes next in the room: nothing of alice's came between.
      const next = await bob.request(
        { type: 'chat_message', userId: 'bob', content: 'after' },
        'chat_message',
      );
      expect(next).toMatchObject({ content: 'after', offset: (original.offset as number) + 1 });
      expect(bob.unread('chat_message')).toEqual([]);
      expect(await alice.next('chat_message')).toMatchObject({ content: 'after' });
      expect(alice.unread('chat_message')).toEqual([]);
      // Another user's message of the same id is another message.
      await bob.request({ ...message, userId: 'bob', content: 'mine' }, 'chat_message');
      expect(await alice.next('chat_message')).toMatchObject({ userId: 'bob', content: 'mine' });
    });

    it('refuses a messageId that is not an id', async () => {
      const alice = track(await joinedClient(deployment.a.wsUrl, 'alice', freshRoom()));
      for (const messageId of ['', 'a b', 'x'.repeat(129), 5]) {
        const error = await alice.request(
          { type: 'chat_message', userId: 'alice', content: 'hi', messageId },
          'error',
        );
        expect(error).toMatchObject({ code: 'invalid_message' });
      }
      expect(alice.unread('chat_message')).toEqual([]);
    });

    it('takes a messageId of null as none: each send is broadcast, without messageId', async () => {
      const alice = track(await joinedClient(deployment.a.wsUrl, 'alice', freshRoom()));
      const message = { type: 'chat_message', userId: 'alice', content: 'hi', messageId: null };
      const first = await alice.request(message, 'chat_message');
      const second = await alice.request(message, 'chat_message');
      expect(first).not.toHaveProperty('messageId');
      expect(second.offset).toBe((first.offset as number) + 1);
    });
  });
}

let inMemory: RunningApp | undefined;
describeIdempotency(
  'in memory',
  async (settings) => {
    inMemory = await startApp(settings);
    return { a: inMemory, b: inMemory };
  },
  async () => {
    await inMemory?.close();
  },
);

describeWithRedis('idempotent publishing with Redis', () => {
  let redis: RedisServer;
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  describeIdempotency(
    'two instances on one Redis',
    async (settings) => {
      const prefix = `idem${process.pid}:`;
      const shared = { ...settings, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix };
      apps.push(await startApp(shared), await startApp(shared));
      return { a: apps[0], b: apps[1] };
    },
    async () => {
      await Promise.all(apps.splice(0).map((app) => app.close()));
    },
  );
});

// Joins run the membership scripts: the cases that join pass once they touch one slot (issue 18,
// point 1).
describeWithRedisCluster('idempotent publishing on a Redis Cluster', () => {
  let cluster: RedisCluster;
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  describeIdempotency(
    'two instances on a 3-master cluster',
    async (settings) => {
      const shared = {
        ...settings,
        REDIS_CLUSTER_NODES: cluster.seeds,
        REDIS_KEY_PREFIX: `idem-c${process.pid}:`,
      };
      apps.push(await startApp(shared), await startApp(shared));
      return { a: apps[0], b: apps[1] };
    },
    async () => {
      await Promise.all(apps.splice(0).map((app) => app.close()));
    },
  );
});

describe('the idempotency window', () => {
  const WINDOW_MS = 500;
  const running: RunningApp[] = [];

  afterAll(async () => {
    await Promise.all(running.splice(0).map((app) => app.close()));
  });

  async function resendUntilBroadcast(settings: Partial<AppConfig>): Promise<void> {
    const app = await startApp({ ...PROTOCOL_TEST_LIMITS, ...settings });
    running.push(app);
    const room = freshRoom();
    const alice = await joinedClient(app.wsUrl, 'alice', room);
    const bob = await joinedClient(app.wsUrl, 'bob', room);
    const message = { type: 'chat_message', userId: 'alice', content: 'hi', messageId: 'm-1' };
    const first = await alice.request(message, 'chat_message');
    // Resent until it is broadcast again (the window passed); each resend before is an echo.
    const later = await eventually(
      'a resend after the window to be broadcast again',
      () => alice.request(message, 'chat_message'),
      { done: (frame) => frame.offset !== first.offset, intervalMs: 100, timeoutMs: 10_000 },
    );
    expect(later).toMatchObject({ messageId: 'm-1', offset: (first.offset as number) + 1 });
    expect((await bob.next('chat_message')).offset).toBe(first.offset);
    expect((await bob.next('chat_message')).offset).toBe(later.offset);
    expect(bob.unread('chat_message')).toEqual([]);
    await Promise.all([alice.close(), bob.close()]);
    // Closed here, while its Redis (if any) is still up.
    running.splice(running.indexOf(app), 1);
    await app.close();
  }

  it('publishes a key again once IDEMPOTENCY_WINDOW_MS has passed, in memory', async () => {
    await resendUntilBroadcast({ IDEMPOTENCY_WINDOW_MS: WINDOW_MS });
  });

  describeWithRedis('with Redis', () => {
    let redis: RedisServer;

    beforeAll(async () => {
      redis = await RedisServer.start();
    });

    afterAll(async () => {
      await redis?.stop();
    });

    it('publishes a key again once IDEMPOTENCY_WINDOW_MS has passed, with Redis', async () => {
      await resendUntilBroadcast({
        IDEMPOTENCY_WINDOW_MS: WINDOW_MS,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: `window${process.pid}:`,
      });
    });
  });
});
