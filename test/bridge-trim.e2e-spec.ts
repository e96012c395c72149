import Redis from 'ioredis';
import { BridgeScripts } from '../src/bridge/bridge-scripts';
import { BridgeClient } from './support/bridge-client';
import { BridgeTestMethodsModule } from './support/bridge-methods';
import { eventually } from './support/eventually';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { startApp } from './support/test-app';

/*
 * The trim rule of the request stream (src/bridge/lua/trim.lua) against a real redis-server:
 * entries below what every consumer group is done with go, an entry a group has not read or has
 * pending stays. One entry per radix node here, so that the approximate trim is exact.
 */

let runs = 0;

describeWithRedis('bridge: trimming the request stream', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    await redis.config('SET', 'stream-node-max-entries', '1');
  });

  afterAll(async () => {
    await redis.quit();
    await server.stop();
  });

  /** A stream of entries `1-0` … `<count>-0`, and the trim script on it. */
  async function streamOf(count: number): Promise<{ stream: string; trim: () => Promise<void> }> {
    runs += 1;
    const stream = `trim-${runs}`;
    for (let n = 1; n <= count; n++) await redis.xadd(stream, `${n}-0`, 'payload', '{}');
    const scripts = new BridgeScripts(redis, {
      stream,
      group: 'g',
      deadLetters: `${stream}:dlq`,
      consumer: 'c',
      leaseMs: 1_000,
      windowMs: 60_000,
      replyTtlS: 60,
    });
    return { stream, trim: () => scripts.trim().then(() => undefined) };
  }

  const idsOf = async (stream: string): Promise<string[]> =>
    (await redis.xrange(stream, '-', '+')).map(([id]) => id);

  /** `group` reads `count` entries as consumer `c` and acknowledges those listed in `acked`. */
  async function read(stream: string, group: string, count: number, acked: string[]) {
    await redis.xreadgroup('GROUP', group, 'c', 'COUNT', count, 'STREAMS', stream, '>');
    if (acked.length > 0) await redis.xack(stream, group, ...acked);
  }

  it('trims below the oldest entry any group has pending', async () => {
    const { stream, trim } = await streamOf(10);
    await redis.xgroup('CREATE', stream, 'done', '0');
    await redis.xgroup('CREATE', stream, 'behind', '0');
    await read(
      stream,
      'done',
      10,
      Array.from({ length: 10 }, (_, i) => `${i + 1}-0`),
    );
    await read(stream, 'behind', 5, ['1-0', '2-0', '3-0', '5-0']);
    await trim();
    expect(await idsOf(stream)).toEqual(['4-0', '5-0', '6-0', '7-0', '8-0', '9-0', '10-0']);
  });

  it('keeps what a group has not read yet: nothing at all when a group has read nothing', async () => {
    const { stream, trim } = await streamOf(6);
    await redis.xgroup('CREATE', stream, 'reader', '0');
    await read(stream, 'reader', 4, ['1-0', '2-0', '3-0', '4-0']);
    await trim();
    // Its last delivered entry (acknowledged) stays, the unread ones too.
    expect(await idsOf(stream)).toEqual(['4-0', '5-0', '6-0']);

    await redis.xgroup('CREATE', stream, 'late', '0');
    await trim();
    expect(await idsOf(stream)).toEqual(['4-0', '5-0', '6-0']);
  });

  it('compares ids as numbers: a pending 9-0 is kept though 10-0 sorts before it as text', async () => {
    const { stream, trim } = await streamOf(12);
    await redis.xgroup('CREATE', stream, 'slow', '0');
    await redis.xgroup('CREATE', stream, 'fast', '0');
    await read(stream, 'slow', 9, ['1-0', '2-0', '3-0', '4-0', '5-0', '6-0', '7-0', '8-0']);
    await read(
      stream,
      'fast',
      12,
      Array.from({ length: 12 }, (_, i) => `${i + 1}-0`),
    );
    await trim();
    expect(await idsOf(stream)).toEqual(['9-0', '10-0', '11-0', '12-0']);
  });

  it('is applied by the bridge to what it handled; its dead letters keep RPC_DEAD_LETTER_MAXLEN', async () => {
    runs += 1;
    const stream = `trim-app-${runs}`;
    const app = await startApp(
      {
        REDIS_URL: server.url,
        REDIS_KEY_PREFIX: `trim${runs}:`,
        RPC_REQUEST_STREAM: stream,
        RPC_DEAD_LETTER_STREAM: `${stream}:dlq`,
        RPC_DEAD_LETTER_MAXLEN: 2,
        RPC_VISIBILITY_TIMEOUT_MS: 200,
      },
      { imports: [BridgeTestMethodsModule] },
    );
    const client = new BridgeClient(server.url, stream);
    try {
      for (let n = 0; n < 5; n++) await client.sendRaw(`{"not json ${n} ${'y'.repeat(10_000)}`);
      const sent = [];
      for (let n = 0; n < 10; n++) sent.push(await client.send({ method: 'test.echo' }));
      for (const call of sent) await client.reply(call);
      await client.settled();

      const letters = await client.deadLetterEntries();
      expect(letters).toHaveLength(2);
      for (const letter of letters) {
        expect(letter.reason).toBe('invalid_json');
        expect(Buffer.byteLength(letter.payload)).toBe(1_024);
      }
      // Trimmed within one trim interval (5 s): only the last delivered entry is kept.
      await eventually('the handled entries to be trimmed', () => client.redis.xlen(stream), {
        done: (length) => length === 1,
        timeoutMs: 12_000,
      });
    } finally {
      await app.close();
      await client.close();
    }
  }, 30_000);

  it('leaves a stream without groups, and a missing stream, alone', async () => {
    const { stream, trim } = await streamOf(3);
    await trim();
    expect(await idsOf(stream)).toEqual(['1-0', '2-0', '3-0']);
    await redis.del(stream);
    await expect(trim()).resolves.toBeUndefined();
  });
});
