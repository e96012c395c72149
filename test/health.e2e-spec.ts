import { RedisServer, describeWithRedis } from './support/redis-server';
import { RunningApp, startApp } from './support/test-app';
import { TestClient, joinedClient } from './support/test-client';
import { eventually } from './support/eventually';

interface ChatCounts {
  connections: number;
  rooms: number;
}

async function chatCounts(server: RunningApp): Promise<ChatCounts> {
  const response = await fetch(`${server.httpUrl}/health`);
  const body = (await response.json()) as { details: { chat: ChatCounts } };
  return { connections: body.details.chat.connections, rooms: body.details.chat.rooms };
}

/** Polls /health until the counts equal `expected`; a close is processed by the server a moment
 * after the client saw it, and nobody is left in the room to be told. */
async function countsBecome(server: RunningApp, expected: ChatCounts): Promise<void> {
  const counts = await eventually(
    `the counts ${JSON.stringify(expected)}`,
    () => chatCounts(server),
    {
      done: (now) => isEqual(now, expected),
    },
  );
  expect(counts).toEqual(expected);
}

function isEqual(a: ChatCounts, b: ChatCounts): boolean {
  return a.connections === b.connections && a.rooms === b.rooms;
}

describe('health endpoints', () => {
  let server: RunningApp;

  beforeEach(async () => {
    server = await startApp();
  });

  afterEach(async () => {
    await server.close();
  });

  it.each(['/', '/health'])('GET %s answers Terminus JSON with the chat counts', async (path) => {
    const client = await joinedClient(server.wsUrl, 'alice', 'lobby');
    const response = await fetch(`${server.httpUrl}${path}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      server_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      connections: 1,
      authenticated: 1,
      users: 1,
      rooms: 1,
      info: { chat: { status: 'up', connections: 1, rooms: 1 } },
      error: {},
      details: { chat: { status: 'up', connections: 1, rooms: 1 } },
    });
    await client.close();
  });

  it('answers seed 003’s figures: connections, those with a known user, users and rooms', async () => {
    const idle = await TestClient.connect(server.wsUrl);
    const tabs = [
      await joinedClient(server.wsUrl, 'alice', 'lobby'),
      await joinedClient(server.wsUrl, 'alice', 'lobby'),
      await joinedClient(server.wsUrl, 'bob', 'dev'),
    ];
    const live = await fetch(`${server.httpUrl}/health/live`);
    const ready = await fetch(`${server.httpUrl}/health`);
    const figures = { connections: 4, authenticated: 3, users: 2, rooms: 2 };
    const liveBody = (await live.json()) as Record<string, unknown>;
    const readyBody = (await ready.json()) as Record<string, unknown>;

    expect(liveBody).toMatchObject({ status: 'ok', ...figures });
    expect(readyBody).toMatchObject({ status: 'ok', ...figures });
    // One id per process, the same in every answer.
    expect(readyBody.server_id).toBe(liveBody.server_id);
    await Promise.all([idle, ...tabs].map((client) => client.close()));
  });

  it('counts follow joins, switches and closes', async () => {
    expect(await chatCounts(server)).toEqual({ connections: 0, rooms: 0 });
    const idle = await TestClient.connect(server.wsUrl);
    expect(await chatCounts(server)).toEqual({ connections: 1, rooms: 0 });

    const alice = await joinedClient(server.wsUrl, 'alice', 'lobby');
    const bob = await joinedClient(server.wsUrl, 'bob', 'lobby');
    const carol = await joinedClient(server.wsUrl, 'carol');
    expect(await chatCounts(server)).toEqual({ connections: 4, rooms: 2 });

    // carol's own room is deleted as she leaves it for the lobby.
    await carol.request({ type: 'switch_room', userId: 'carol', roomId: 'lobby' }, 'joined');
    expect(await chatCounts(server)).toEqual({ connections: 4, rooms: 1 });

    await bob.close();
    await alice.next((frame) => frame.type === 'user_left' && frame.userId === 'bob');
    expect(await chatCounts(server)).toEqual({ connections: 3, rooms: 1 });

    await Promise.all([alice.close(), carol.close(), idle.close()]);
    await countsBecome(server, { connections: 0, rooms: 0 });
  });
});

describeWithRedis('health of the Redis connection', () => {
  let redis: RedisServer;
  let server: RunningApp;

  beforeAll(async () => {
    redis = await RedisServer.start();
    server = await startApp({ REDIS_URL: redis.url });
  });

  afterAll(async () => {
    await server.close();
    await redis.stop();
  });

  it('says the connection is down in our words, not the client library’s socket message', async () => {
    await redis.stop();
    const body = await eventually(
      'readiness reports Redis down',
      async () => {
        const response = await fetch(`${server.httpUrl}/health/ready`);
        return (await response.json()) as { details: { redis: Record<string, unknown> } };
      },
      { done: (answer) => answer.details.redis.status === 'down', timeoutMs: 10_000 },
    );
    const down = body.details.redis;
    expect(down).toEqual({
      status: 'down',
      connection: expect.stringMatching(
        /^(reconnecting|connecting|not answering|closed)$/,
      ) as string,
      message: expect.stringMatching(/Redis/) as string,
    });
    // Nothing of the answer (the bridge's indicator included) is the client library's message.
    expect(JSON.stringify(body)).not.toMatch(
      /Stream isn't writeable|ECONNREFUSED|enableOfflineQueue|Connection is closed/,
    );
    await redis.restart();
  });
});
