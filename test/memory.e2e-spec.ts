import Redis from 'ioredis';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { spawnServer } from './support/server-process';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { TestClient, joinedClient } from './support/test-client';
import { isChat } from './support/expected-frames';
import { eventually } from './support/eventually';

/*
 * History follows the machine: in memory it defaults to a share of the heap limit (and a larger
 * setting stops the start); in Redis each room's stream is bounded in bytes as well as in count.
 */

const MIB = 1_048_576;

describe('history in memory, bounded by the heap', () => {
  it('refuses to start with HISTORY_MAX_BYTES above half the heap limit, saying why', async () => {
    const server = spawnServer({
      NODE_OPTIONS: '--max-old-space-size=128',
      HISTORY_MAX_BYTES: String(120 * MIB),
    });
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(server.output()).toMatch(
      /HISTORY_MAX_BYTES=125829120: must not exceed \d+, 50% of the \d+ MiB heap limit/,
    );
  });

  it('logs the history bound it runs with: a quarter of the heap limit by default', async () => {
    const server = spawnServer({ NODE_OPTIONS: '--max-old-space-size=128' });
    try {
      await server.port;
      const line = await eventually(
        'the history line of the start-up log',
        () => /history in memory: (\d+) MiB at most/.exec(server.output())?.[1],
      );
      // 25% of the heap limit V8 derives from 128 MiB (a little more than 128).
      expect(Number(line)).toBeGreaterThanOrEqual(32);
      expect(Number(line)).toBeLessThan(48);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });
});

describe('a server on a 128 MiB heap under history-filling traffic', () => {
  const CONNECTIONS = 8;
  const MESSAGES = 100;
  const LENGTH = 100_000;

  it(`stays up with ${CONNECTIONS * MESSAGES} messages of ${LENGTH} two-byte characters (more than the heap) in history`, async () => {
    const server = spawnServer({
      NODE_OPTIONS: '--max-old-space-size=128',
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
      MAX_MESSAGE_LENGTH: String(LENGTH),
      MAX_PAYLOAD_BYTES: String(4 * MIB),
    });
    const clients: TestClient[] = [];
    try {
      const port = await server.port;
      const content = '€'.repeat(LENGTH);
      const sender = async (n: number): Promise<void> => {
        const client = await joinedClient(`ws://127.0.0.1:${port}`, `u${n}`, `room-${n}`);
        clients.push(client);
        for (let i = 0; i < MESSAGES; i++) {
          const text = `${i}${content}`.slice(0, LENGTH);
          await client.request(
            { type: 'chat_message', userId: `u${n}`, content: text },
            (frame) => frame.type === 'chat_message' && frame.content === text,
          );
        }
      };
      await Promise.all(Array.from({ length: CONNECTIONS }, (_, n) => sender(n)));
      const health = await fetch(`http://127.0.0.1:${port}/health/live`);
      expect(health.status).toBe(200);
      expect(server.child.exitCode).toBeNull();
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      server.child.kill('SIGKILL');
      await server.exited;
    }
  });
});

describeWithRedis('history in Redis, bounded in bytes per room', () => {
  const BUDGET = 64 * 1024;
  const prefix = `mem${process.pid}:`;
  let redis: RedisServer;
  let app: RunningApp;
  let admin: Redis;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = new Redis(redis.url);
    app = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      HISTORY_ROOM_MAX_BYTES: BUDGET,
    });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  afterAll(async () => {
    await app?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  const join = async (userId: string, roomId: string): Promise<TestClient> => {
    const client = await joinedClient(app.wsUrl, userId, roomId);
    clients.push(client);
    return client;
  };

  it('trims the oldest entries past HISTORY_ROOM_MAX_BYTES and counts the bytes kept in the room meta', async () => {
    const alice = await join('alice', 'big');
    const sent = [];
    for (let i = 0; i < 30; i++) {
      const content = `${i}:`.padEnd(10_000, 'x');
      sent.push(
        await alice.request({ type: 'chat_message', userId: 'alice', content }, isChat(content)),
      );
    }
    const hist = `${prefix}{big}:hist`;
    const length = await admin.xlen(hist);
    const counted = Number(await admin.hget(`${prefix}{big}:meta`, 'b'));
    const stored = (await admin.xrange(hist, '-', '+')).map(([, [, text]]) => text.length + 64);
    // The count kept is exact, and within the budget; what the stream holds is the newest.
    expect(counted).toBe(stored.reduce((a, b) => a + b, 0));
    expect(counted).toBeLessThanOrEqual(BUDGET);
    expect(length).toBe(Math.floor(BUDGET / stored[0]));
    expect(Number(await admin.call('MEMORY', 'USAGE', hist))).toBeLessThan(2 * BUDGET);
    const history = await alice.request({ type: 'history', limit: 100 }, 'history');
    expect(history.messages).toEqual(sent.slice(-length));
  });

  it('answers a since older than what is kept with recovered:false, a newer one with the replay', async () => {
    const alice = await join('alice', 'gap');
    const first = await alice.request(
      { type: 'chat_message', userId: 'alice', content: 'first' },
      isChat('first'),
    );
    const big = 'y'.repeat(9_990);
    for (let i = 0; i < 10; i++) {
      await alice.request(
        { type: 'chat_message', userId: 'alice', content: `${i}${big}` },
        isChat(`${i}${big}`),
      );
    }
    const since = { offset: first.offset, epoch: first.epoch };
    const late = await TestClient.connect(app.wsUrl);
    clients.push(late);
    const lost = await late.request(
      { type: 'join', userId: 'bob', roomId: 'gap', since },
      'joined',
    );
    expect(lost.recovered).toBe(false);
    const last = await alice.request(
      { type: 'chat_message', userId: 'alice', content: 'last' },
      isChat('last'),
    );
    const back = await TestClient.connect(app.wsUrl);
    clients.push(back);
    const recent = { offset: (last.offset as number) - 1, epoch: last.epoch };
    const recovered = await back.request(
      { type: 'join', userId: 'carol', roomId: 'gap', since: recent },
      'joined',
    );
    expect(recovered.recovered).toBe(true);
  });
});
