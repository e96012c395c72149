import { join } from 'node:path';
import { BridgeScripts } from '../src/bridge/bridge-scripts';
import type { BridgeClient } from './support/bridge-client';
import { serverIdOf, useBridgeProcesses } from './support/bridge-processes';
import { eventually } from './support/eventually';
import { describeWithRedis } from './support/redis-server';
import { ServerProcess, spawnServer } from './support/server-process';

/*
 * What the bridge reads: entries far over MAX_PAYLOAD_BYTES, together more than the server's
 * heap, some new and some left pending by a consumer that died with them. A server on a capped
 * heap dead-letters each once (their first KiB only) without loading them, answers them, keeps
 * serving, and a restart finds nothing left to load.
 */

const ENTRY = join('test', 'support', 'bridge-server.ts');
/** Old space of the server; together the entries are more than twice as large. */
const HEAP_MB = 48;
const ENTRY_BYTES = 16 * 1024 * 1024;
/** Entries of each kind: left pending by a dead consumer (claimed), and new (read). */
const EACH = 4;

describeWithRedis('bridge: entries over MAX_PAYLOAD_BYTES, more than the heap together', () => {
  const processes = useBridgeProcesses();
  const { servers } = processes;

  it('are dead-lettered once without being loaded; the server stays up, and a restart too', async () => {
    const stream = `read-${process.pid}`;
    const settings = {
      REDIS_URL: processes.redis.url,
      REDIS_KEY_PREFIX: `read${process.pid}:`,
      RPC_REQUEST_STREAM: stream,
      RPC_DEAD_LETTER_STREAM: `${stream}:dlq`,
      RPC_VISIBILITY_TIMEOUT_MS: '300',
      NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`,
    };
    const client: BridgeClient = processes.client(stream);
    await client.redis.xgroup('CREATE', stream, client.group, '0', 'MKSTREAM');

    // As the Django client writes them: `correlation_id` and `reply_to` after the params.
    const filler = 'x'.repeat(ENTRY_BYTES);
    const oversized = (n: number): string =>
      `{"type":"rpc","method":"test.echo","params":{"key":"${filler}"},` +
      `"correlation_id":"big-${n}","reply_to":"list:response:big-${n}","timeout":60}`;
    const ids: string[] = [];
    for (let n = 0; n < EACH; n++) ids.push(await client.sendRaw(oversized(n)));
    // A consumer that read those and died: they are claimed after the visibility timeout.
    await client.redis.eval(
      "redis.call('XREADGROUP', 'GROUP', ARGV[1], 'dead', 'STREAMS', KEYS[1], '>') return 0",
      1,
      stream,
      client.group,
    );
    for (let n = EACH; n < 2 * EACH; n++) ids.push(await client.sendRaw(oversized(n)));
    const small = await client.send({ method: 'test.echo', params: { key: 'small' } });

    const first = spawnServer(settings, ENTRY);
    servers.push(first);
    expect(await unlessDied(first, client.reply(small, 20_000))).toMatchObject({ success: true });
    // Each is answered, the claimed ones (their first delivery never ended) as the new ones.
    for (let n = 0; n < 2 * EACH; n++) {
      const [answer] = await client.replies(`list:response:big-${n}`, 1, 20_000);
      expect(answer).toMatchObject({
        type: 'error',
        correlation_id: `big-${n}`,
        error: { code: 'invalid_params' },
      });
    }
    await client.settled(20_000);
    await expectUp(first);

    const letters = await client.deadLetterEntries();
    expect(letters.map((letter) => letter.original_id).sort()).toEqual([...ids].sort());
    for (const letter of letters) {
      expect(letter.reason).toBe('too_large');
      expect(Buffer.byteLength(letter.payload)).toBeLessThanOrEqual(1_024);
    }
    const claimed = letters.filter((letter) => ids.indexOf(letter.original_id) < EACH);
    expect(claimed.map((letter) => letter.deliveries)).toEqual(Array(EACH).fill('2'));

    // A restart (the first one killed, as a crash would) has nothing left to load or dead-letter.
    first.child.kill('SIGKILL');
    await first.exited;
    const second = spawnServer(settings, ENTRY);
    servers.push(second);
    const again = await client.send({ method: 'test.echo', params: { key: 'again' } });
    expect(await unlessDied(second, client.reply(again, 20_000))).toMatchObject({ success: true });
    await expectUp(second);
    expect(await client.redis.xlen(client.deadLetters)).toBe(2 * EACH);
  }, 120_000);
});

describeWithRedis('bridge: the read script (src/bridge/lua/read.lua)', () => {
  const processes = useBridgeProcesses();
  let runs = 0;

  async function setUp(): Promise<{ client: BridgeClient; scripts: BridgeScripts }> {
    runs += 1;
    const stream = `read-script-${process.pid}-${runs}`;
    const client = processes.client(stream);
    await client.redis.xgroup('CREATE', stream, client.group, '0', 'MKSTREAM');
    const scripts = new BridgeScripts(client.redis, {
      stream,
      group: client.group,
      deadLetters: client.deadLetters,
      deadLetterMaxLen: 100,
      consumer: 'c',
      leaseMs: 1_000,
      windowMs: 60_000,
      replyTtlS: 60,
      maxDeliveries: 2,
    });
    return { client, scripts };
  }

  it('brings no more than its byte budget plus one entry, and the next read the rest', async () => {
    const { client, scripts } = await setUp();
    for (let n = 0; n < 10; n++) await client.sendRaw('p'.repeat(4_000));
    const bounds = { count: 100, maxPayloadBytes: 65_536, budgetBytes: 10_000 };
    const first = await scripts.readNew(bounds);
    // 4,000 + 4,000 + 4,000: the third entry starts within the budget.
    expect(first).toHaveLength(3);
    const rest = [];
    for (let read = 0; read < 10 && rest.length < 7; read++) {
      rest.push(...(await scripts.readNew(bounds)));
    }
    expect(rest).toHaveLength(7);
    expect(await scripts.readNew(bounds)).toEqual([]);
  });

  it('returns only the size, first and last KiB of a payload over the limit; the count bounds a read', async () => {
    const { client, scripts } = await setUp();
    const big = `{"head":"${'h'.repeat(2_000)}${'m'.repeat(100_000)}${'t'.repeat(2_000)}"}`;
    const id = await client.sendRaw(big);
    await client.sendRaw('{}', '*', 'other');
    await client.sendRaw('{"small":1}');
    const bounds = { count: 2, maxPayloadBytes: 65_536, budgetBytes: 1_000_000 };
    expect(await scripts.readNew(bounds)).toEqual([
      {
        id,
        deliveries: 1,
        oversized: { bytes: big.length, head: big.slice(0, 1_024), tail: big.slice(-1_024) },
      },
      { id: expect.any(String), deliveries: 1 },
    ]);
    expect(await scripts.readNew(bounds)).toMatchObject([{ payload: '{"small":1}' }]);
  });

  it('claims by bytes with the delivery count; an oversized entry delivered more than the max deliveries never leaves Redis', async () => {
    const { client, scripts } = await setUp();
    const small = await client.sendRaw('{"small":1}');
    const big = await client.sendRaw('b'.repeat(100_000));
    const bounds = { count: 10, maxPayloadBytes: 65_536, budgetBytes: 1_000_000 };
    expect(await scripts.readNew(bounds)).toHaveLength(2);

    // Claimed again within the max deliveries (2): returned as on its first delivery.
    const kept = { bytes: 100_000, head: 'b'.repeat(1_024), tail: 'b'.repeat(1_024) };
    expect((await scripts.claim(bounds, 0, '0-0')).entries).toEqual([
      { id: small, deliveries: 2, payload: '{"small":1}' },
      { id: big, deliveries: 2, oversized: kept },
    ]);
    expect(await client.deadLetterEntries()).toEqual([]);

    const claimed = await scripts.claim(bounds, 0, '0-0');
    expect(claimed.entries).toEqual([{ id: small, deliveries: 3, payload: '{"small":1}' }]);
    expect(await client.pending()).toBe(1);
    const [letter] = await client.deadLetterEntries();
    expect(letter).toMatchObject({ original_id: big, reason: 'too_large', deliveries: '3' });
    expect(letter.payload).toBe('b'.repeat(1_024));
  });

  it('takes back given entries still pending on this consumer by bytes, never one another consumer holds', async () => {
    const { client, scripts } = await setUp();
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) ids.push(await client.sendRaw('p'.repeat(4_000)));
    const bounds = { count: 10, maxPayloadBytes: 65_536, budgetBytes: 6_000 };
    expect(await scripts.readNew({ ...bounds, budgetBytes: 1_000_000 })).toHaveLength(4);
    // The last one claimed by another consumer meanwhile.
    await client.redis.xclaim(client.stream, client.group, 'other', 0, ids[3]);

    const first = await scripts.retake(bounds, [ids[0], `+${ids[1]}`, ids[2], ids[3]]);
    // 4,000 + 4,000: the second entry starts within the budget; the rest is for the next call.
    expect(first).toEqual({
      looked: 2,
      entries: [
        { id: ids[0], deliveries: 1, payload: 'p'.repeat(4_000) },
        { id: ids[1], deliveries: 2, payload: 'p'.repeat(4_000) },
      ],
    });
    const rest = await scripts.retake(bounds, [ids[2], ids[3]]);
    expect(rest.entries).toEqual([{ id: ids[2], deliveries: 1, payload: 'p'.repeat(4_000) }]);
    expect(await scripts.ownPending('-', 10)).toHaveLength(3);
    const [other] = (await client.redis.xpending(
      client.stream,
      client.group,
      ids[3],
      ids[3],
      1,
    )) as [string, string][];
    expect(other[1]).toBe('other');
  });
});

/** `promise`, unless the server exits first: then its exit and last output. */
async function unlessDied<T>(server: ServerProcess, promise: Promise<T>): Promise<T> {
  const died = server.exited.then(({ code, signal }) => {
    throw new Error(`the server exited (${code ?? signal}):\n${server.output().slice(-2_000)}`);
  });
  return Promise.race([promise, died]);
}

/** The process answers its health check and has not exited (no heap out of memory). */
async function expectUp(server: ServerProcess): Promise<void> {
  await eventually('the server to answer its health check', () => serverIdOf(server), {
    done: (id) => id.length > 0,
  });
  expect(server.child.exitCode).toBeNull();
  expect(server.output()).not.toMatch(/heap out of memory/i);
}
