/* What the backend bridge reads: entries far over MAX_PAYLOAD_BYTES written to the request stream. */
import Redis from 'ioredis';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisServer } from '../../test/support/redis-server';
import {
  Attack,
  Server,
  probeHealth,
  round,
  rssKb,
  startServer,
  stopServer,
  summarizeServer,
} from './harness';

const STREAM = 'stream:requests';
const DEAD_LETTERS = 'stream:requests:dlq';
const GROUP = 'rpc_group';

/** The Redis of the current run and the server settings pointing at it. */
let redis: RedisServer | undefined;
let settings: Record<string, string> = {};

/**
 * Watches one server until every entry is acknowledged (or it dies, or `seconds` pass): what it
 * dead-lettered, and how its health check answered meanwhile.
 */
async function watch(server: Server, client: Redis, seconds: number) {
  const started = performance.now();
  let health = 0;
  let unanswered = 0;
  let settledMs: number | null = null;
  while (!server.exit && performance.now() - started < seconds * 1_000) {
    const [pending, lag] = await Promise.all([
      client.xpending(STREAM, GROUP) as Promise<[number, ...unknown[]]>,
      client.xinfo('GROUPS', STREAM) as Promise<unknown[][]>,
    ]);
    const ours = lag.find((group) => group[1] === GROUP);
    const undelivered = ours ? Number(ours[ours.indexOf('lag') + 1] ?? 0) : 0;
    if ((await probeHealth(server.port, '127.0.0.1')) === undefined) unanswered += 1;
    else health += 1;
    if (Number(pending[0]) === 0 && undelivered === 0) {
      settledMs = performance.now() - started;
      break;
    }
    await delay(250);
  }
  const rss = rssKb(server.child.pid);
  return {
    died: server.exit ?? null,
    outOfMemory: server.outOfMemory,
    allAcknowledgedAfterMs: round(settledMs ?? undefined),
    deadLetters: await client.xlen(DEAD_LETTERS),
    healthChecks: `${health} answered, ${unanswered} not`,
    rssMbAtEnd: rss === undefined ? null : round(rss / 1024),
  };
}

/** The longest command of each name Redis ran (SLOWLOG: those over 10 ms), in ms. */
async function slowestCommandsMs(client: Redis): Promise<Record<string, number>> {
  const entries = (await client.slowlog('GET', 128)) as [number, number, number, string[]][];
  const slowest: Record<string, number> = {};
  for (const [, , micros, [name]] of entries) {
    const key = name.toLowerCase();
    slowest[key] = Math.max(slowest[key] ?? 0, Math.round(micros / 1_000));
  }
  return slowest;
}

/** How many of the flood's `count` requests got a reply on their list. */
async function answered(client: Redis, count: number): Promise<number> {
  const pipeline = client.pipeline();
  for (let n = 0; n < count; n++) pipeline.llen(`list:response:flood-${n}`);
  const lengths = (await pipeline.exec()) ?? [];
  return lengths.filter(([, length]) => Number(length) > 0).length;
}

/** A Redis of its own for the attack, and the server's settings pointing at it. */
async function ownRedis(extra: Record<string, string>) {
  redis = await RedisServer.start();
  settings = { REDIS_URL: redis.url, LOG_LEVEL: 'warn', ...extra };
  return {
    env: settings,
    cleanup: async () => {
      await redis?.stop();
      redis = undefined;
    },
  };
}

export const bridgeReadAttacks: Record<string, Attack> = {
  'bridge-trim': {
    summary: '[--requests 50000]  fire-and-forget requests; what the request stream keeps after',
    setup: () => ownRedis({}),
    async run(server, options) {
      if (!redis) throw new Error('bridge-trim runs after its setup');
      const requests = Number(options.requests ?? 50_000);
      const client = new Redis(redis.url);
      try {
        for (let sent = 0; sent < requests; sent += 1_000) {
          const pipeline = client.pipeline();
          for (let n = sent; n < Math.min(requests, sent + 1_000); n++) {
            const payload = JSON.stringify({
              type: 'rpc',
              method: 'notification.send',
              params: { user_id: 'u', title: 't', message: `m${n}`, type: 'info' },
              correlation_id: `trim-${n}`,
              timeout: 0,
            });
            pipeline.xadd(STREAM, '*', 'payload', payload);
          }
          await pipeline.exec();
        }
        const handled = await watch(server, client, Number(options.seconds ?? 60));
        // One trim interval (5 s) and a little more.
        await delay(6_000);
        return {
          requests,
          handled,
          requestStreamEntries: await client.xlen(STREAM),
          requestStreamBytes: await client.memory('USAGE', STREAM),
        };
      } finally {
        await client.quit();
      }
    },
  },

  'bridge-flood': {
    summary:
      '[--entries 24] [--entry-mb 16] [--max-payload-bytes N] [--invalid yes]  big entries in one MULTI, then a restart',
    async setup(options) {
      redis = await RedisServer.start();
      const client = new Redis(redis.url);
      const entries = Number(options.entries ?? 24);
      const filler = 'x'.repeat(Number(options['entry-mb'] ?? 16) * 1024 * 1024);
      await client.xgroup('CREATE', STREAM, GROUP, '0', 'MKSTREAM');
      const multi = client.multi();
      for (let n = 0; n < entries; n++) {
        // As the Django client writes a request: `correlation_id` and `reply_to` after `params`.
        const payload =
          (options.invalid === 'yes' ? 'not JSON ' : '') +
          `{"type":"rpc","method":"notification.send","params":{"user_id":"u","title":"${filler}"},` +
          `"correlation_id":"flood-${n}","reply_to":"list:response:flood-${n}","timeout":300}`;
        multi.xadd(STREAM, '*', 'payload', payload);
      }
      await multi.exec();
      await client.quit();
      settings = {
        REDIS_URL: redis.url,
        RPC_VISIBILITY_TIMEOUT_MS: String(options['visibility-ms'] ?? 2_000),
        LOG_LEVEL: 'warn',
        ...(options['max-payload-bytes'] !== undefined && {
          MAX_PAYLOAD_BYTES: String(options['max-payload-bytes']),
        }),
      };
      return {
        env: settings,
        cleanup: async () => {
          await redis?.stop();
          redis = undefined;
        },
      };
    },
    async run(server, options) {
      if (!redis) throw new Error('bridge-flood runs after its setup');
      const seconds = Number(options.seconds ?? 60);
      const client = new Redis(redis.url);
      try {
        const first = await watch(server, client, seconds);
        const firstExit = await stopServer(server);
        // The restart: whatever the first one read and did not acknowledge is claimed now.
        const root = path.resolve(String(options.root ?? path.join(__dirname, '..', '..')));
        const heapMb = options['heap-mb'] === undefined ? undefined : Number(options['heap-mb']);
        const restart = await startServer(root, heapMb, undefined, settings);
        const second = await watch(restart, client, seconds);
        const secondExit = await stopServer(restart);
        return {
          entries: Number(options.entries ?? 24),
          entryMb: Number(options['entry-mb'] ?? 16),
          first: { ...first, ...summarizeServer(server, firstExit) },
          restart: { ...second, ...summarizeServer(restart, secondExit) },
          answered: await answered(client, Number(options.entries ?? 24)),
          deadLetterStreamBytes: await client.memory('USAGE', DEAD_LETTERS),
          requestStreamEntries: await client.xlen(STREAM),
          redisSlowestCommandsMs: await slowestCommandsMs(client),
        };
      } finally {
        await client.quit();
      }
    },
  },
};
