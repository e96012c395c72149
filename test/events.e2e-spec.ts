import type { AppConfig } from '../src/config/app-config';
import { SessionRegistry } from '../src/transport/session-registry';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient, joinedClient } from './support/test-client';
import { eventually } from './support/eventually';
import { RedisCluster, describeWithRedisCluster } from './support/redis-cluster';
import { TEST_SECRET, signToken } from './support/jwt-fixtures';

/*
 * Seed 003's methods (issue 12, point 3) from outside: sockets call them with `{type:"rpc"}`,
 * backends with `POST /api/rpc`; room events reach exactly the room's followers, with positions,
 * history and recovery; pushes reach every connection of a user, on every instance.
 */

const API_KEY = 'test-api-key-0123456789';
let calls = 0;

/** Calls a method over the socket; resolves with the answer carrying the call's correlation_id. */
function rpc(client: TestClient, method: string, params?: object): Promise<Frame> {
  const correlation_id = `c-${++calls}`;
  return client.request(
    { type: 'rpc', method, ...(params && { params }), correlation_id },
    (frame) => frame.correlation_id === correlation_id,
  );
}

/** Calls a method as a backend, through the HTTP API. */
async function backend(app: RunningApp, method: string, params: object): Promise<Frame> {
  const response = await fetch(`${app.httpUrl}/api/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ method, params }),
  });
  return (await response.json()) as Frame;
}

async function follower(app: RunningApp, ...rooms: string[]): Promise<TestClient> {
  const client = await TestClient.connect(app.wsUrl);
  for (const room of rooms) {
    expect(await rpc(client, 'join_room', { room })).toMatchObject({ type: 'response' });
  }
  return client;
}

const ROOM_METHODS: [method: string, params: Record<string, unknown>, room: string][] = [
  [
    'workspace.file_changed',
    {
      workspace_id: 'w1',
      file_path: 'src/a.ts',
      event_type: 'rename',
      old_path: 'src/b.ts',
      content: 'x',
      diff: '@@',
      timestamp: '2026-12-01T10:00:00Z',
    },
    'workspace:w1',
  ],
  [
    'workspace.snapshot_created',
    {
      workspace_id: 'w1',
      snapshot_id: 's1',
      name: 'before refactor',
      description: 'd',
      created_at: 1764583200,
    },
    'workspace:w1',
  ],
  ['workspace.state_changed', { workspace_id: 'w1', state: 'running' }, 'workspace:w1'],
  [
    'session.message',
    {
      session_id: 'ai1',
      message_id: 'm1',
      role: 'assistant',
      content: 'Hi',
      is_streaming: false,
      is_final: true,
      seq: 0,
    },
    'session:ai1',
  ],
  [
    'session.task_status',
    { session_id: 'ai1', task_id: 't1', status: 'completed', progress: 100, result: { files: 2 } },
    'session:ai1',
  ],
  ['session.context_updated', { session_id: 'ai1', context: { open: ['a.ts'] } }, 'session:ai1'],
];

const INVALID: [method: string, params: Record<string, unknown>, fields: string[]][] = [
  [
    'workspace.file_changed',
    { workspace_id: 'w 1', file_path: '', event_type: 'touch' },
    ['workspace_id', 'file_path', 'event_type'],
  ],
  [
    'workspace.file_changed',
    {
      workspace_id: 'w1',
      file_path: 'a',
      event_type: 'create',
      old_path: 5,
      content: [],
      diff: {},
      timestamp: 'soon',
    },
    ['old_path', 'content', 'diff', 'timestamp'],
  ],
  [
    'workspace.snapshot_created',
    { workspace_id: 'w1', name: 7, created_at: 'x' },
    ['snapshot_id', 'name', 'created_at'],
  ],
  ['workspace.state_changed', { workspace_id: 'w1', state: '' }, ['state']],
  [
    'session.message',
    {
      session_id: 'ai1',
      message_id: 'm',
      role: 'robot',
      content: 1,
      is_streaming: 'yes',
      is_final: 0,
      seq: -1,
    },
    ['role', 'content', 'is_streaming', 'is_final', 'seq'],
  ],
  [
    'session.task_status',
    { session_id: 'ai1', task_id: 't', status: 'done', progress: 101, error: 5 },
    ['status', 'progress', 'error'],
  ],
  ['session.context_updated', { session_id: 'ai1', context: 'all' }, ['context']],
  [
    'notification.send',
    { user_id: '', title: '', message: 3, type: 'loud', action_url: 9 },
    ['user_id', 'title', 'message', 'type', 'action_url'],
  ],
  ['notification.broadcast', { title: 'x', message: 'y' }, ['type']],
  ['user.disconnect', { reason: 'r' }, ['user_id']],
  ['join_room', { room: 'a b', since: { offset: -1 } }, ['room', 'since']],
  ['history', { room: 'r', limit: -1, before: 0 }, ['limit', 'before']],
];

describe('the seed methods in memory', () => {
  let app: RunningApp;
  const clients: TestClient[] = [];
  const track = (client: TestClient): TestClient => (clients.push(client), client);

  beforeAll(async () => {
    app = await startApp({ ...PROTOCOL_TEST_LIMITS, API_KEY, MAX_ROOMS_PER_CONNECTION: 3 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  afterAll(() => app.close());

  it.each(ROOM_METHODS)(
    '%s broadcasts an event to the room, positioned',
    async (method, params, room) => {
      const watcher = track(await follower(app, room));
      const caller = track(await TestClient.connect(app.wsUrl));
      const answer = await rpc(caller, method, params);
      expect(answer).toEqual({
        type: 'response',
        correlation_id: expect.any(String),
        result: { room, offset: expect.any(Number), epoch: expect.any(String) },
      });
      const result = answer.result as { offset: number; epoch: string };
      expect(await watcher.next('event')).toEqual({
        type: 'event',
        event: method,
        roomId: room,
        offset: result.offset,
        epoch: result.epoch,
        timestamp: expect.any(String),
        data: params,
      });
      // The caller follows no room: it got nothing but its answer.
      expect(caller.unread()).toEqual([]);
    },
  );

  it.each(INVALID)(
    '%s refuses invalid params, naming each field',
    async (method, params, fields) => {
      const caller = track(await TestClient.connect(app.wsUrl));
      // Socket callers of backend methods are refused before validation: ask as a backend.
      const answer = ['notification.send', 'notification.broadcast', 'user.disconnect'].includes(
        method,
      )
        ? await backend(app, method, params)
        : await rpc(caller, method, params);
      const error = answer.error as {
        code: string;
        details: { validation_errors: { field: string }[] };
      };
      expect(error.code).toBe('invalid_params');
      expect(error.details.validation_errors.map((e) => e.field).sort()).toEqual(
        [...fields].sort(),
      );
    },
  );

  it('refuses the backend methods to a socket with forbidden', async () => {
    const caller = track(await TestClient.connect(app.wsUrl));
    for (const [method, params] of [
      ['notification.send', { user_id: 'bob', title: 't', message: 'm', type: 'info' }],
      ['notification.broadcast', { title: 't', message: 'm', type: 'info' }],
      ['user.disconnect', { user_id: 'bob' }],
    ] as const) {
      expect(await rpc(caller, method, params)).toMatchObject({
        type: 'error',
        code: 'forbidden',
        error: { code: 'forbidden', retryable: false },
      });
    }
  });

  it('notification.send reaches every connection of the user and counts them', async () => {
    const tabs = await Promise.all([1, 2].map(() => TestClient.connect(app.wsUrl)));
    tabs.forEach(track);
    for (const tab of tabs)
      await tab.request({ type: 'join', userId: 'nina', roomId: 'lobby' }, 'joined');
    const other = track(await TestClient.connect(app.wsUrl));
    await other.request({ type: 'join', userId: 'otto' }, 'joined');
    // A push finds the user's sessions through the registry's index, never by a scan of all.
    const registry = app.app.get(SessionRegistry);
    const iterate = registry[Symbol.iterator].bind(registry);
    let scans = 0;
    registry[Symbol.iterator] = () => {
      scans += 1;
      return iterate();
    };
    const params = {
      user_id: 'nina',
      title: 'Build',
      message: 'done',
      type: 'success',
      action_url: '/b/1',
    };
    expect(await backend(app, 'notification.send', params)).toMatchObject({
      success: true,
      result: { delivered: 2 },
    });
    for (const tab of tabs) {
      expect(await tab.next('notification')).toEqual({
        type: 'notification',
        data: { title: 'Build', message: 'done', notification_type: 'success', action_url: '/b/1' },
        timestamp: expect.any(String),
      });
    }
    expect(scans).toBe(0);
    expect(await backend(app, 'notification.send', { ...params, user_id: 'nobody' })).toMatchObject(
      {
        result: { delivered: 0 },
      },
    );
    await backend(app, 'notification.broadcast', {
      title: 'All',
      message: 'hands',
      type: 'warning',
    });
    const silent = track(await TestClient.connect(app.wsUrl)); // joined nothing: still reached
    await backend(app, 'notification.broadcast', { title: 'Again', message: 'x', type: 'info' });
    expect(await silent.next('notification')).toMatchObject({ data: { title: 'Again' } });
    // Otto got the broadcasts, not Nina's notification.
    await other.next(
      (f) => f.type === 'notification' && (f.data as { title: string }).title === 'Again',
    );
    expect(other.unread('notification').map((f) => (f.data as { title: string }).title)).toEqual([
      'All',
    ]);
  });

  it('user.disconnect closes every connection of the user with 4500 (do not reconnect)', async () => {
    const tabs = await Promise.all([1, 2].map(() => TestClient.connect(app.wsUrl)));
    for (const tab of tabs) await tab.request({ type: 'join', userId: 'gone' }, 'joined');
    const stays = track(await TestClient.connect(app.wsUrl));
    await stays.request({ type: 'join', userId: 'stays', roomId: 'gone' }, 'joined');
    expect(
      await backend(app, 'user.disconnect', { user_id: 'gone', reason: 'account closed' }),
    ).toMatchObject({
      result: { disconnected: 2 },
    });
    for (const tab of tabs)
      expect(await tab.closed).toEqual({ code: 4500, reason: 'account closed' });
    expect(await stays.next('user_left')).toMatchObject({ userId: 'gone' });
  });

  it('join_room follows up to MAX_ROOMS_PER_CONNECTION rooms; rooms, leave_room, presence, history', async () => {
    const client = track(await TestClient.connect(app.wsUrl));
    await client.request({ type: 'join', userId: 'ann', roomId: 'chat' }, 'joined');
    for (const room of ['r1', 'r2', 'r3']) {
      expect(await rpc(client, 'join_room', { room })).toMatchObject({
        result: { room, offset: 1 },
      });
    }
    expect(await rpc(client, 'join_room', { room: 'r4' })).toMatchObject({
      code: 'invalid_params',
      message: 'a connection follows at most 3 rooms',
      error: {
        details: {
          validation_errors: [{ field: 'room', error: 'a connection follows at most 3 rooms' }],
        },
      },
    });
    expect(await rpc(client, 'rooms')).toMatchObject({
      result: { rooms: ['chat', 'r1', 'r2', 'r3'] },
    });
    expect(await rpc(client, 'leave_room', { room: 'r2' })).toMatchObject({
      result: { left: true },
    });
    expect(await rpc(client, 'leave_room', { room: 'r2' })).toMatchObject({
      result: { left: false },
    });
    expect(await rpc(client, 'join_room', { room: 'r4' })).toMatchObject({ type: 'response' });
    expect(await rpc(client, 'presence', { room: 'r1' })).toMatchObject({
      result: {
        room: 'r1',
        count: 1,
        users: [{ userId: 'ann', connections: 1 }],
        truncated: false,
      },
    });
    await rpc(client, 'workspace.state_changed', { workspace_id: 'x', state: 'up' });
    const history = await rpc(client, 'history', { room: 'workspace:x' });
    expect(history.result).toEqual({
      room: 'workspace:x',
      offset: 1,
      epoch: expect.any(String),
      messages: [
        expect.objectContaining({ type: 'event', event: 'workspace.state_changed', offset: 1 }),
      ],
    });
    // A backend is in no room.
    expect(await backend(app, 'rooms', {})).toMatchObject({ result: { rooms: [] } });
    expect(await backend(app, 'join_room', { room: 'r9' })).toMatchObject({
      error: { code: 'invalid_params', details: { validation_errors: [{ field: 'room' }] } },
    });
  });

  it('delivers a 1,000-chunk streamed message complete and in order; a dropped client recovers the rest', async () => {
    const streaming = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      API_KEY,
      HISTORY_SIZE: 1_000,
      RECOVERY_MAX: 1_000,
    });
    try {
      const reader = await follower(streaming, 'session:s1');
      const dropped = await follower(streaming, 'session:s1');
      const producer = await TestClient.connect(streaming.wsUrl);
      const chunk = (seq: number) => ({
        session_id: 's1',
        message_id: 'm1',
        role: 'assistant',
        content: `part ${seq} `,
        is_streaming: true,
        is_final: seq === 999,
        seq,
      });
      let lastSeen: Frame | undefined;
      for (let seq = 0; seq < 1_000; seq++) {
        producer.send({
          type: 'rpc',
          method: 'session.message',
          params: chunk(seq),
          correlation_id: `s${seq}`,
        });
        if (seq === 400) {
          // The second reader saw chunk 400 and then dropped.
          lastSeen = await dropped.next(
            (f) => f.type === 'event' && (f.data as { seq: number }).seq === 400,
          );
          await dropped.close();
        }
      }
      const received: Frame[] = [];
      while (received.length < 1_000) received.push(await reader.next('event'));
      expect(received.map((f) => (f.data as { seq: number }).seq)).toEqual([
        ...Array(1_000).keys(),
      ]);
      expect(received.at(-1)?.data).toMatchObject({ is_final: true });
      const back = await TestClient.connect(streaming.wsUrl);
      const since = { offset: lastSeen?.offset, epoch: lastSeen?.epoch };
      const rejoin = await rpc(back, 'join_room', { room: 'session:s1', since });
      expect(rejoin.result).toMatchObject({ recovered: true });
      const replayed = back.unread('event').map((f) => (f.data as { seq: number }).seq);
      expect(replayed).toEqual([...Array(599).keys()].map((i) => i + 401));
      await Promise.all([reader.close(), producer.close(), back.close()]);
    } finally {
      await streaming.close();
    }
  });
});

describe('the seed methods under AUTH_MODE=jwt', () => {
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      API_KEY,
    });
  });

  afterAll(() => app.close());

  it('broadcasts a notification to authenticated connections only', async () => {
    const token = await signToken({ sub: 'reader', rooms: ['*'] }, TEST_SECRET);
    const member = await TestClient.connect(app.wsUrl, {
      headers: { authorization: `Bearer ${token}` },
    });
    const anonymous = await TestClient.connect(app.wsUrl); // has not sent its Bearer frame yet
    try {
      const answer = await backend(app, 'notification.broadcast', {
        title: 'All',
        message: 'm',
        type: 'info',
      });
      expect(answer).toMatchObject({ success: true });
      expect(await member.next('notification')).toMatchObject({ data: { title: 'All' } });
      anonymous.send(`Bearer ${token}`);
      await anonymous.next('auth');
      expect(anonymous.unread('notification')).toEqual([]);
    } finally {
      await Promise.all([member.close(), anonymous.close()]);
    }
  });

  it.each(ROOM_METHODS)(
    '%s from a socket: only into a room its publish claim matches',
    async (method, params, room) => {
      const token = await signToken({ sub: 'tool', rooms: ['*'], publish: [room] }, TEST_SECRET);
      const other = await signToken(
        { sub: 'tool', rooms: ['*'], publish: ['elsewhere:*'] },
        TEST_SECRET,
      );
      const none = await signToken({ sub: 'tool', rooms: ['*'] }, TEST_SECRET);
      for (const [bearer, allowed] of [
        [token, true],
        [other, false],
        [none, false],
      ] as const) {
        const client = await TestClient.connect(app.wsUrl, {
          headers: { authorization: `Bearer ${bearer}` },
        });
        try {
          const answer = await rpc(client, method, params);
          expect(answer).toMatchObject(
            allowed ? { type: 'response', result: { room } } : { type: 'error', code: 'forbidden' },
          );
        } finally {
          await client.close();
        }
      }
    },
  );

  it('lets a socket publish only into rooms its publish claim matches, and enter only its rooms', async () => {
    const token = await signToken(
      { sub: 'tool', rooms: ['workspace:*'], publish: ['workspace:w1'] },
      TEST_SECRET,
    );
    const client = await TestClient.connect(app.wsUrl, {
      headers: { authorization: `Bearer ${token}` },
    });
    try {
      const change = { file_path: 'a', event_type: 'modify' };
      expect(
        await rpc(client, 'workspace.file_changed', { workspace_id: 'w1', ...change }),
      ).toMatchObject({
        type: 'response',
      });
      expect(
        await rpc(client, 'workspace.file_changed', { workspace_id: 'w2', ...change }),
      ).toMatchObject({
        code: 'forbidden',
      });
      expect(await rpc(client, 'join_room', { room: 'workspace:w2' })).toMatchObject({
        type: 'response',
      });
      expect(await rpc(client, 'join_room', { room: 'session:s1' })).toMatchObject({
        code: 'forbidden',
      });
      expect(await rpc(client, 'history', { room: 'session:s1' })).toMatchObject({
        code: 'forbidden',
      });
      expect(await rpc(client, 'presence', { room: 'session:s1' })).toMatchObject({
        code: 'forbidden',
      });
    } finally {
      await client.close();
    }
  });
});

/**
 * Events, pushes, presence and user.disconnect across two instances sharing a Redis backend:
 * `shared` starts it and gives the instances' settings, `stop` stops it.
 */
function twoInstanceSuite(
  shared: () => Promise<Partial<AppConfig>>,
  stop: () => Promise<void>,
): void {
  let a: RunningApp;
  let b: RunningApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    const settings: Partial<AppConfig> = {
      ...PROTOCOL_TEST_LIMITS,
      API_KEY,
      REDIS_KEY_PREFIX: `events-${process.pid}:`,
      ...(await shared()),
    };
    [a, b] = await Promise.all([startApp(settings), startApp(settings)]);
  }, 60_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await stop();
  });

  it('answers presence with the members of both instances, a user of two tabs once', async () => {
    const tabs = await Promise.all(
      [
        [a, 'pia'],
        [b, 'pia'],
        [b, 'paul'],
      ].map(([app, user]) => joinedClient((app as RunningApp).wsUrl, user as string, 'plaza')),
    );
    clients.push(...tabs);
    await eventually('both instances to see both users', async () => {
      const answers = await Promise.all(
        tabs.slice(0, 2).map((tab) => tab.request({ type: 'presence' }, 'presence')),
      );
      return answers.every((answer) => answer.count === 2);
    });
    const answer = await tabs[0].request({ type: 'presence' }, 'presence');
    const users = answer.users as { userId: string; connections: number }[];
    expect(users.map(({ userId, connections }) => [userId, connections])).toEqual([
      ['pia', 2],
      ['paul', 1],
    ]);
  });

  it('delivers an event to exactly the room’s followers, on both instances', async () => {
    const [onA, onB, elsewhere] = await Promise.all([
      follower(a, 'workspace:w7'),
      follower(b, 'workspace:w7'),
      follower(b, 'workspace:w8'),
    ]);
    clients.push(onA, onB, elsewhere);
    const params = { workspace_id: 'w7', file_path: 'x.ts', event_type: 'delete' };
    const answer = await backend(a, 'workspace.file_changed', params);
    for (const client of [onA, onB]) {
      expect(await client.next('event')).toMatchObject({
        roomId: 'workspace:w7',
        data: params,
        offset: (answer.result as { offset: number }).offset,
      });
    }
    // A marker through w8 proves the w7 event did not reach its follower.
    await backend(b, 'workspace.state_changed', { workspace_id: 'w8', state: 'marker' });
    expect(await elsewhere.next('event')).toMatchObject({
      roomId: 'workspace:w8',
      data: { state: 'marker' },
    });
    expect(elsewhere.unread('event')).toEqual([]);
  });

  it('notification.send reaches a user’s three tabs on two instances, counted cluster-wide', async () => {
    const tabs = await Promise.all([a, a, b].map((app) => TestClient.connect(app.wsUrl)));
    clients.push(...tabs);
    for (const tab of tabs) await tab.request({ type: 'join', userId: 'tina' }, 'joined');
    const answer = await backend(b, 'notification.send', {
      user_id: 'tina',
      title: 'Deploy',
      message: 'live',
      type: 'info',
    });
    expect(answer).toMatchObject({ success: true, result: { delivered: 3 } });
    for (const tab of tabs)
      expect(await tab.next('notification')).toMatchObject({ data: { title: 'Deploy' } });
  });

  it('user.disconnect closes the user’s connections on every instance with 4500 (do not reconnect)', async () => {
    const tabs = await Promise.all([a, b].map((app) => TestClient.connect(app.wsUrl)));
    for (const tab of tabs) await tab.request({ type: 'join', userId: 'leaver' }, 'joined');
    expect(await backend(a, 'user.disconnect', { user_id: 'leaver' })).toMatchObject({
      result: { disconnected: 2 },
    });
    for (const tab of tabs)
      expect(await tab.closed).toEqual({ code: 4500, reason: 'disconnected' });
  });
}

describeWithRedis('the seed methods on two instances sharing Redis', () => {
  let redis: RedisServer | undefined;
  twoInstanceSuite(
    async () => {
      redis = await RedisServer.start();
      return { REDIS_URL: redis.url };
    },
    async () => redis?.stop(),
  );
});

// Every script of membership, per-user counts, pushes and events touches one slot: a cross-slot
// one would be refused by the cluster.
describeWithRedisCluster('the seed methods on two instances on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  twoInstanceSuite(
    async () => {
      cluster = await RedisCluster.start({ masters: 3 });
      return {
        REDIS_CLUSTER_NODES: cluster.seeds,
        RPC_REQUEST_STREAM: '{rpc}:requests',
        RPC_DEAD_LETTER_STREAM: '{rpc}:requests:dlq',
      };
    },
    async () => cluster?.stop(),
  );
});
