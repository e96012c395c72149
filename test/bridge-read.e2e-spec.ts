import { join } from 'node:path';
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
    // The new ones are answered; those claimed again (their first delivery never ended) are not.
    for (let n = EACH; n < 2 * EACH; n++) {
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
    expect(claimed[0].error).toContain('claimed again, not answered');

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
