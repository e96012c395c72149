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
  it('says the rooms are in memory without REDIS_URL', async () => {
    const server = spawnServer({});
    try {
      expect(await listeningLine(server)).toContain('rooms in memory');
    } finally {
      await stop(server);
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
