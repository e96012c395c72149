import { join } from 'node:path';
import { BridgeClient } from './support/bridge-client';
import { eventually } from './support/eventually';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { ServerProcess, spawnServer } from './support/server-process';

/*
 * An instance that stalls (SIGSTOP) past its lease while it runs a request: another instance
 * claims the entry, takes the record and answers; the stalled one, resumed, neither takes the
 * entry back nor answers a second time.
 */

const VISIBILITY_MS = 500;
const ENTRY = join('test', 'support', 'bridge-server.ts');

interface Health {
  server_id: string;
}

async function serverId(server: ServerProcess): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${await server.port}/health`);
  return ((await response.json()) as Health).server_id;
}

describeWithRedis('bridge: an instance stalled past its lease', () => {
  let redis: RedisServer;
  let client: BridgeClient;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    for (const server of servers) {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGCONT');
        server.child.kill('SIGTERM');
        await server.exited;
      }
    }
    await client?.close();
    await redis.stop();
  });

  it('is not answered twice: the claimer answers, the resumed owner writes nothing and takes nothing back', async () => {
    const stream = `stall-${process.pid}`;
    const settings = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `stall${process.pid}:`,
      RPC_REQUEST_STREAM: stream,
      RPC_DEAD_LETTER_STREAM: `${stream}:dlq`,
      RPC_VISIBILITY_TIMEOUT_MS: String(VISIBILITY_MS),
    };
    const stalled = spawnServer(settings, ENTRY);
    servers.push(stalled);
    const stalledId = await serverId(stalled);
    client = new BridgeClient(redis.url, stream);
    const holder = async (): Promise<string | undefined> => {
      const rows = (await client.redis.xpending(stream, client.group, '-', '+', 10)) as [
        string,
        string,
      ][];
      return rows[0]?.[1];
    };

    // Long enough to still run when the claimer has taken it over.
    const sent = await client.send({ method: 'test.slow', params: { key: 's', ms: 3_000 } });
    const record = `${settings.REDIS_KEY_PREFIX}{#rpc:${sent.correlationId}}:record`;
    await eventually('the first instance to own it', () => client.redis.hget(record, 'o'), {
      done: (owner) => owner?.startsWith(`${stalledId}/`) ?? false,
    });
    stalled.child.kill('SIGSTOP');
    const claimer = spawnServer(settings, ENTRY);
    servers.push(claimer);
    const claimerId = await serverId(claimer);
    await eventually('the second instance to claim it', holder, {
      done: (h) => h === claimerId,
      timeoutMs: 20_000,
    });

    // Resumed while the claimer runs it: its keep-alive and its finish are due at once.
    stalled.child.kill('SIGCONT');
    await eventually(
      'the resumed instance to find its run taken over',
      () => stalled.output().includes('ran past its lease'),
      { timeoutMs: 20_000 },
    );
    expect(await holder()).toBe(claimerId);

    const [reply] = await client.replies(sent.replyTo ?? '', 1, 20_000);
    expect(reply).toMatchObject({ type: 'response', result: { server_id: claimerId } });
    await client.settled();
    expect(await client.redis.llen(sent.replyTo ?? '')).toBe(1);
  }, 90_000);
});
