import { RedisUserConnections } from '../src/redis/redis-user-connections';
import { RedisConnections } from '../src/redis/redis-connections';
import { configWith } from '../src/config/load-config';
import { describeUserConnectionsContract } from './contracts/user-connections.contract';
import { eventually } from './support/eventually';
import { signToken, TEST_SECRET } from './support/jwt-fixtures';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { ServerProcess, spawnServer } from './support/server-process';
import { RunningApp, startApp } from './support/test-app';
import { refusedUpgradeStatus, TestClient } from './support/test-client';

/*
 * MAX_CONNECTIONS_PER_USER counted cluster-wide on a real Redis: the Redis UserConnections under
 * the shared contract, then two instances (one a separate process, SIGKILLed) sharing the count.
 */

describeWithRedis('the per-user connection count in Redis', () => {
  let redis: RedisServer;
  let prefixes = 0;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  describeUserConnectionsContract('redis', async () => {
    const config = configWith({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `users-${process.pid}-${++prefixes}:`,
    });
    const connections = new RedisConnections(config);
    await connections.connect();
    return {
      counter: new RedisUserConnections(connections, config.PRESENCE_TTL_MS),
      stop: () => connections.onApplicationShutdown(),
    };
  });

  describe('two servers on one Redis', () => {
    let local: RunningApp;
    let remote: ServerProcess;
    let remoteUrl: string;
    const settings = {
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      MAX_CONNECTIONS_PER_USER: 2,
      PRESENCE_TTL_MS: 600,
    } as const;
    const clients: TestClient[] = [];
    const token = (sub: string) => signToken({ sub }, TEST_SECRET);

    beforeAll(async () => {
      const prefix = `users-${process.pid}-${++prefixes}:`;
      local = await startApp({ ...settings, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix });
      remote = spawnServer({
        AUTH_MODE: 'jwt',
        JWT_SECRET: TEST_SECRET,
        MAX_CONNECTIONS_PER_USER: '2',
        PRESENCE_TTL_MS: '600',
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: prefix,
      });
      remoteUrl = `ws://127.0.0.1:${await remote.port}`;
    });

    afterAll(async () => {
      for (const client of clients) client.terminate();
      if (remote.child.exitCode === null && remote.child.signalCode === null) {
        remote.child.kill('SIGKILL');
      }
      await remote.exited;
      await local.close();
    });

    const connect = async (url: string, sub: string) => {
      const client = await TestClient.connect(url, {
        headers: { authorization: `Bearer ${await token(sub)}` },
      });
      clients.push(client);
      return client;
    };

    it('refuses the user’s third connection on either instance, until one instance dies', async () => {
      await connect(local.wsUrl, 'carol');
      await connect(remoteUrl, 'carol');
      const headers = { authorization: `Bearer ${await token('carol')}` };
      expect(await refusedUpgradeStatus(local.wsUrl, { headers })).toBe(429);
      expect(await refusedUpgradeStatus(remoteUrl, { headers })).toBe(429);
      // By first frame, the refusal is a close with 4503.
      const late = await TestClient.connect(local.wsUrl);
      clients.push(late);
      late.send(`Bearer ${await token('carol')}`);
      expect(await late.closed).toEqual({
        code: 4503,
        reason: 'too many connections for this user',
      });
      // The remote instance is killed: once reaped, its connection no longer counts.
      remote.child.kill('SIGKILL');
      await remote.exited;
      await eventually(
        'a connection of carol accepted after the remote instance was reaped',
        async () => {
          try {
            await connect(local.wsUrl, 'carol');
            return true;
          } catch {
            return false;
          }
        },
        10_000,
      );
    });
  });
});
