import { AnswerPool } from '../common/answer-pool';
import type Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig } from '../config/load-config';
import type { RedisConnections } from '../redis/redis-connections';
import { KeyedSequencer } from '../rpc/keyed-sequencer';
import type { RpcDispatcher } from '../rpc/rpc-dispatcher';
import { RpcBridge } from './rpc-bridge';

/**
 * The bridge's reads and claims against a fake Redis whose read script answers as lua/read.lua
 * does (by count and byte budget) after a few ms, with abandoned entries always there to claim:
 * what it holds at once stays within RPC_CONCURRENCY and RPC_MAX_BYTES_IN_FLIGHT plus one entry.
 */

const PAYLOAD_FILLER = 'x'.repeat(200);

function payloadOf(id: string): string {
  return JSON.stringify({
    type: 'rpc',
    method: 'test.echo',
    params: { key: PAYLOAD_FILLER },
    correlation_id: `c-${id}`,
    reply_to: `list:response:${id}`,
    timeout: 30,
  });
}

const ENTRY_BYTES = Buffer.byteLength(payloadOf('0-0'));

class FakeRedis {
  status = 'ready';
  readonly calls = { new: 0, claim: 0 };
  /** Read script calls sent and not answered yet, and the most at once. */
  private reading = 0;
  maxReading = 0;
  /** Entries the fake gave out and the bridge has not finished, and the most at once. */
  private held = new Set<string>();
  maxHeld = 0;
  private next = 1;

  defineCommand(): void {}

  // The scripts, as the bridge calls them (numberOfKeys, ...keys, ...args).
  async bridgeRead(...args: (string | number)[]): Promise<unknown> {
    const [, , , , , mode, count, , budget] = args;
    this.reading += 1;
    this.maxReading = Math.max(this.maxReading, this.reading);
    await delay(2);
    this.reading -= 1;
    if (mode === 'new' || mode === 'claim') this.calls[mode] += 1;
    const rows: [string, number, string, string][] = [];
    let used = 0;
    while (rows.length < Number(count) && used < Number(budget)) {
      // Written now: not expired.
      const id = `${Date.now()}-${this.next++}`;
      rows.push([id, mode === 'claim' ? 2 : 1, 'ok', payloadOf(id)]);
      used += ENTRY_BYTES;
      this.held.add(id);
    }
    this.maxHeld = Math.max(this.maxHeld, this.held.size);
    return [mode === 'claim' ? '1-0' : '0-0', rows];
  }

  bridgeTake(...args: (string | number)[]): Promise<unknown> {
    return Promise.resolve(['run', `me/${String(args[6])}/1`]);
  }

  bridgeFinish(...args: (string | number)[]): Promise<unknown> {
    this.held.delete(String(args[6]));
    return Promise.resolve(1);
  }

  bridgeKeepAlive(): Promise<unknown> {
    return Promise.resolve([]);
  }

  bridgeTrim(): Promise<unknown> {
    return Promise.resolve(0);
  }

  xgroup(): Promise<unknown> {
    return Promise.resolve('OK');
  }

  xinfo(): Promise<unknown> {
    return Promise.resolve([]);
  }
}

describe('RpcBridge reads', () => {
  it('holds at most RPC_CONCURRENCY entries and RPC_MAX_BYTES_IN_FLIGHT plus one entry, reads and claims together', async () => {
    const redis = new FakeRedis();
    const connections = {
      instanceId: 'me',
      create: () => redis as unknown as Redis,
    } as unknown as RedisConnections;
    const config = loadConfig({
      // The claims are due every 25 ms (a quarter of it), between reads of a few ms each.
      RPC_VISIBILITY_TIMEOUT_MS: '100',
      RPC_CONCURRENCY: '6',
      RPC_MAX_BYTES_IN_FLIGHT: String(4 * ENTRY_BYTES),
    });
    const dispatcher: RpcDispatcher = {
      call: async () => {
        await delay(1 + Math.floor(Math.random() * 4));
        return { ok: true };
      },
      roomOf: () => undefined,
      isQuery: () => false,
    };
    const bridge = new RpcBridge(
      connections,
      config,
      dispatcher,
      new KeyedSequencer(),
      new AnswerPool(config.HISTORY_ANSWERS_MAX_BYTES, config.HISTORY_MAX_ANSWER_BYTES),
    );
    bridge.onApplicationBootstrap();
    try {
      while (redis.calls.claim < 20 || redis.calls.new < 20) await delay(10);
    } finally {
      await bridge.beforeApplicationShutdown();
    }
    expect(redis.maxReading).toBe(1);
    // Four entries fill the byte budget; a read started below it brings one more at most.
    expect(redis.maxHeld).toBeLessThanOrEqual(5);
  });
});
