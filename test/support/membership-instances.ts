import type Redis from 'ioredis';
import type { Command } from 'ioredis';
import { configWith } from '../../src/config/load-config';
import type { AppConfig } from '../../src/config/app-config';
import { RedisConnections } from '../../src/redis/redis-connections';
import { RedisRoomBroker } from '../../src/redis/redis-room-broker';
import { RedisRoomStore } from '../../src/redis/redis-room-store';
import type { Publication } from '../../src/rooms/publication';

/**
 * One instance's membership as Nest builds it (connections, broker, store, init hooks), on a real
 * Redis and without sockets: for suites that drive tens of thousands of members through the
 * store port. Records the number of arguments (keys included) of every script call it sends.
 */
export interface MembershipInstance {
  redis: RedisConnections;
  broker: RedisRoomBroker;
  store: RedisRoomStore;
  /** Every publication this instance's broker delivered. */
  received: Publication[];
  /** Arguments of the largest script call so far: keys and arguments (EVALSHA/EVAL's digest or
   * body and key count left out). */
  maxScriptArguments(): number;
  /** Script calls sent so far, by the number of arguments. */
  scriptCalls: number[];
  /** A graceful stop: the instance's members leave, then its connections close. */
  stop(): Promise<void>;
  /** A crash: the connections drop and nothing more is sent (no leave, no lease renewed). */
  crash(): void;
}

export async function membershipInstance(
  redisUrl: string,
  overrides: Partial<AppConfig>,
): Promise<MembershipInstance> {
  const config = configWith({ REDIS_URL: redisUrl, ...overrides });
  const redis = new RedisConnections(config);
  await redis.connect();
  const scriptCalls: number[] = [];
  recordScriptCalls(redis.command as Redis, scriptCalls);
  const broker = new RedisRoomBroker(redis);
  broker.onModuleInit();
  const store = new RedisRoomStore(redis, config, broker);
  store.onModuleInit();
  const received: Publication[] = [];
  broker.onPublication((publication) => received.push(publication));
  return {
    redis,
    broker,
    store,
    received,
    scriptCalls,
    maxScriptArguments: () => scriptCalls.reduce((max, n) => Math.max(max, n), 0),
    stop: () => redis.onApplicationShutdown(),
    crash: () => {
      redis.command.disconnect();
      redis.subscriber.disconnect();
    },
  };
}

/** Notes the argument count of each script call `client` sends (ioredis' own command path). */
function recordScriptCalls(client: Redis, calls: number[]): void {
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command: Command, stream?: never) => {
    if (command.name === 'evalsha' || command.name === 'eval') calls.push(command.args.length - 2);
    return send(command, stream);
  };
}

/** Runs `task` for each of `count` items, `concurrency` at a time. */
export async function forEachOf(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
