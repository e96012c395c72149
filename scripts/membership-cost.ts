/**
 * The worst Redis command time of a large instance's membership: its resync after Redis lost its
 * data (FLUSHALL), its expiry after a crash (by a second instance holding a member in every
 * room) and its graceful stop, read from Redis' SLOWLOG. Drives the stores through their port on
 * a throwaway redis-server, without sockets. `--src` measures another checkout's code (its
 * store, broker and connections), for before/after figures (docs/reliability.md).
 *
 *   npx ts-node --transpile-only scripts/membership-cost.ts --shape 50000x1,100x500
 *   npx ts-node --transpile-only scripts/membership-cost.ts --src ../main/src --shape 20000x2000
 *
 * `--shape` lists `<members>x<rooms>` groups: `20000x2000` is 2,000 rooms of 10.
 */
import Redis from 'ioredis';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface Store {
  add(roomId: string, member: { userId: string; connectionId: string }): Promise<unknown>;
  count(roomId: string): Promise<number>;
  onModuleInit(): unknown;
}
interface Connections {
  command: Redis;
  subscriber: Redis;
  connect(): Promise<void>;
  onApplicationShutdown(): Promise<void>;
}
interface Broker {
  onModuleInit(): void;
}

const { values } = parseArgs({
  options: {
    src: { type: 'string', default: resolve(__dirname, '../src') },
    shape: { type: 'string', default: '50000x1,50000x500' },
    ttl: { type: 'string', default: '30000' },
  },
});
const src = resolve(values.src);
/* eslint-disable @typescript-eslint/no-require-imports */
const { configWith } = require(`${src}/config/load-config`) as {
  configWith: (overrides: object) => object;
};
const { RedisConnections } = require(`${src}/redis/redis-connections`) as {
  RedisConnections: new (config: object) => Connections;
};
const { RedisRoomBroker } = require(`${src}/redis/redis-room-broker`) as {
  RedisRoomBroker: new (redis: Connections) => Broker;
};
const { RedisRoomStore } = require(`${src}/redis/redis-room-store`) as {
  RedisRoomStore: new (redis: Connections, config: object, broker: Broker) => Store;
};
const { RedisServer } = require('../test/support/redis-server') as {
  RedisServer: { start(): Promise<{ url: string; stop(): Promise<void> }> };
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** [room, connections] of the shape: `<members>x<rooms>` groups, spread evenly. */
function roomsOf(shape: string): [string, number][] {
  return shape.split(',').flatMap((group, g) => {
    const [members, count] = group.split('x').map(Number);
    return Array.from({ length: count }, (_, i): [string, number] => [
      `g${g}r${i}`,
      Math.floor(members / count),
    ]);
  });
}

async function forEachOf(n: number, concurrency: number, task: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const admin = new Redis(server.url);
  await admin.config('SET', 'slowlog-log-slower-than', '1000');
  await admin.config('SET', 'slowlog-max-len', '10000');
  const rooms = roomsOf(values.shape);
  const total = rooms.reduce((sum, [, n]) => sum + n, 0);
  let prefixes = 0;

  async function instance(prefix: string) {
    const config = configWith({
      REDIS_URL: server.url,
      REDIS_KEY_PREFIX: prefix,
      PRESENCE_TTL_MS: Number(values.ttl),
    });
    const redis = new RedisConnections(config);
    await redis.connect();
    const broker = new RedisRoomBroker(redis);
    broker.onModuleInit();
    const store = new RedisRoomStore(redis, config, broker);
    await store.onModuleInit();
    return { redis, store };
  }

  async function populated() {
    const prefix = `cost-${++prefixes}:`;
    const watcher = await instance(prefix);
    await forEachOf(rooms.length, 20, (i) =>
      watcher.store.add(rooms[i][0], { userId: 'watcher', connectionId: `w${i}` }),
    );
    const holder = await instance(prefix);
    const entries = rooms.flatMap(([room, n]) => Array.from({ length: n }, (_, i) => [room, i]));
    await forEachOf(entries.length, 20, (i) => {
      const [room, n] = entries[i] as [string, number];
      return holder.store.add(room, { userId: `u${n}`, connectionId: `c${i}` });
    });
    return { watcher, holder };
  }

  /** Waits until every room holds `size(members)` users, or `timeoutMs` passed. */
  async function until(store: Store, size: (n: number) => number, timeoutMs = 300_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const counts = await Promise.all(rooms.map(([room]) => store.count(room)));
      if (counts.every((count, i) => count === size(rooms[i][1]))) return 'done';
      await new Promise((r) => setTimeout(r, 250));
    }
    return 'NOT DONE';
  }

  async function slowest(): Promise<string> {
    const entries = (await admin.call('SLOWLOG', 'GET', '10000')) as [
      number,
      number,
      number,
      string[],
    ][];
    let worst: [number, string] = [0, ''];
    for (const [, , us, args] of entries) {
      if (us > worst[0]) worst = [us, args.slice(0, 3).join(' ').slice(0, 60)];
    }
    await admin.call('SLOWLOG', 'RESET');
    return `${(worst[0] / 1000).toFixed(1)} ms (${entries.length} commands over 1 ms; worst: ${worst[1]})`;
  }

  const report = (what: string, outcome: string, worst: string): void =>
    console.log(`${what.padEnd(36)} ${outcome.padEnd(9)} slowest: ${worst}`);

  console.log(`${total} connections in ${rooms.length} rooms, code of ${src}`);
  let { watcher, holder } = await populated();
  await admin.call('SLOWLOG', 'RESET');
  await admin.flushall();
  await admin.call('SLOWLOG', 'RESET');
  // Both stores notice the loss at their next beat / heartbeat and resync.
  report('resync after FLUSHALL', await until(watcher.store, (n) => n + 1), await slowest());
  holder.redis.command.disconnect();
  holder.redis.subscriber.disconnect();
  report('expiry of a crashed instance', await until(watcher.store, () => 1), await slowest());
  await watcher.redis.onApplicationShutdown();

  ({ watcher, holder } = await populated());
  await admin.call('SLOWLOG', 'RESET');
  await holder.redis.onApplicationShutdown();
  report('graceful stop', await until(watcher.store, () => 1), await slowest());
  await watcher.redis.onApplicationShutdown();
  admin.disconnect();
  await server.stop();
  process.exit(0);
}

process.on('uncaughtException', (error) => console.log(`failed: ${error.message}`));
void main();
