import { BridgeClient } from './bridge-client';
import { RedisServer } from './redis-server';
import { ServerProcess } from './server-process';

/** The Redis and the server processes of a bridge suite, and the clients it opens. */
export interface BridgeProcesses {
  /** Started before the suite's first test. */
  readonly redis: RedisServer;
  /** Spawned by the tests; each still running after the suite is resumed and stopped. */
  readonly servers: ServerProcess[];
  /** A bridge client of `stream` on the suite's Redis, closed after the suite. */
  client(stream: string): BridgeClient;
}

/** Registers the suite's hooks: a Redis before it; its servers, clients and Redis stopped after. */
export function useBridgeProcesses(): BridgeProcesses {
  let redis: RedisServer | undefined;
  const clients: BridgeClient[] = [];
  const processes: BridgeProcesses = {
    get redis(): RedisServer {
      if (!redis) throw new Error('the suite’s Redis is started in beforeAll');
      return redis;
    },
    servers: [],
    client(stream: string): BridgeClient {
      const client = new BridgeClient(processes.redis.url, stream);
      clients.push(client);
      return client;
    },
  };
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    for (const server of processes.servers) {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        // A stopped (SIGSTOP) process handles its SIGTERM only once resumed.
        server.child.kill('SIGCONT');
        server.child.kill('SIGTERM');
        await server.exited;
      }
    }
    for (const client of clients) await client.close();
    await redis?.stop();
  });
  return processes;
}

/** The `server_id` a server process answers in its health figures. */
export async function serverIdOf(server: ServerProcess): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${await server.port}/health`);
  return ((await response.json()) as { server_id: string }).server_id;
}
