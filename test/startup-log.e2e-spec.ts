import { FakeRedis } from './support/fake-redis';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { ServerProcess, spawnServer } from './support/server-process';

/*
 * The start-up log line of `npm start` (src/main.ts): where it listens, as tests and people parse
 * it, and which mode the rooms run in, so that whoever starts an instance sees whether it shares
 * its rooms with others.
 */

/** The "listening on" line of a started server process. */
async function listeningLine(server: ServerProcess): Promise<string> {
  const port = await server.port;
  const line = server
    .output()
    .split('\n')
    .find((text) => text.includes('listening on'));
  expect(line).toContain(`listening on http://127.0.0.1:${port} (WebSocket at / and /ws)`);
  return line ?? '';
}

async function stop(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
  }
  await server.exited;
}

describe('the start-up log', () => {
  it('says the rooms are in memory without REDIS_URL, AUTH_MODE=none, and the HTTP API off', async () => {
    const server = spawnServer({});
    try {
      const line = await listeningLine(server);
      expect(line).toContain('rooms in memory');
      expect(line).toContain('auth AUTH_MODE=none (clients say who they are)');
      expect(line).toContain('HTTP API off (set API_KEY to turn it on)');
    } finally {
      await stop(server);
    }
  });

  it('says AUTH_MODE=jwt with its key setting and the HTTP API on, never their values', async () => {
    const secret = 'a-secret-of-at-least-32-bytes-0123456789';
    const apiKey = 'an-api-key-0123456789';
    const server = spawnServer({ AUTH_MODE: 'jwt', JWT_SECRET: secret, API_KEY: apiKey });
    try {
      const line = await listeningLine(server);
      expect(line).toContain('auth AUTH_MODE=jwt (tokens verified with JWT_SECRET)');
      expect(line).toContain('HTTP API POST /api/rpc on (API_KEY set)');
      expect(server.output()).not.toContain(secret);
      expect(server.output()).not.toContain(apiKey);
    } finally {
      await stop(server);
    }
  });

  it('refuses a Redis older than 7.0 with a message naming its version, and exits non-zero', async () => {
    const old = await FakeRedis.start('6.0.16');
    try {
      const server = spawnServer({ REDIS_URL: old.url });
      const { code } = await server.exited;
      expect(code).not.toBe(0);
      expect(server.output()).toContain(
        'Redis 6.0.16 is too old: this server needs Redis 7.0 or later',
      );
      expect(server.output()).not.toContain('listening on');
    } finally {
      await old.stop();
    }
  });
});

describeWithRedis('the start-up log with REDIS_URL', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis.stop();
  });

  it('says the rooms are in Redis, and not where (the URL may hold a password)', async () => {
    const server = spawnServer({ REDIS_URL: redis.url });
    try {
      const line = await listeningLine(server);
      expect(line).toContain('rooms in Redis');
      expect(line).not.toContain(redis.url);
      expect(server.output()).not.toContain(redis.url);
    } finally {
      await stop(server);
    }
  });
});
