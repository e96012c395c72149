import Redis from 'ioredis';
import { BridgeScripts, BridgeScriptSettings } from '../src/bridge/bridge-scripts';
import { DedupKeys, dedupKeys } from '../src/bridge/dedup';
import type { RedisClient } from '../src/redis/redis-client';
import { clusterClient } from './support/cluster-client';
import { eventually } from './support/eventually';
import { RedisCluster, describeWithRedisCluster } from './support/redis-cluster';
import { RedisServer, describeWithRedis } from './support/redis-server';

/*
 * The bridge's scripts (src/bridge/lua/) against a real redis-server and a real 3-master Redis
 * Cluster (which refuses a script whose keys are of several slots), two consumers `a` and `b` of
 * one group standing for two instances: who owns a correlation id's record, who answers, and
 * what a stale owner, a crash between the steps of an answer, or a duplicate may do. Each test
 * has its own stream and key prefix; on the cluster the stream's name carries a hash tag, and the
 * reply lists fall in other slots.
 */

let runs = 0;

describeWithRedis('bridge scripts on one Redis: ownership of an entry and its record', () => {
  let server: RedisServer;
  ownershipSuite(
    async () => {
      server = await RedisServer.start();
      return new Redis(server.url);
    },
    () => server.stop(),
    (n) => `own-${n}`,
  );
});

describeWithRedisCluster(
  'bridge scripts on a Redis Cluster: ownership of an entry and its record',
  () => {
    let cluster: RedisCluster;
    ownershipSuite(
      async () => {
        cluster = await RedisCluster.start({ masters: 3 });
        return clusterClient(cluster.seeds);
      },
      () => cluster.stop(),
      (n) => `{own-${n}}:requests`,
    );
  },
);

function ownershipSuite(
  start: () => Promise<RedisClient>,
  stop: () => Promise<void>,
  streamName: (n: number) => string,
): void {
  let redis: RedisClient;

  beforeAll(async () => {
    redis = await start();
  });

  afterAll(async () => {
    await redis.quit();
    await stop();
  });

  /** A stream with its group, and the scripts of consumers `a` and `b` on it. */
  async function setUp(leaseMs: number): Promise<{
    stream: string;
    prefix: string;
    a: BridgeScripts;
    b: BridgeScripts;
  }> {
    runs += 1;
    const stream = streamName(runs);
    const prefix = `own${runs}:`;
    await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    const settings = (consumer: string): BridgeScriptSettings => ({
      stream,
      group: 'g',
      deadLetters: `${stream}:dlq`,
      consumer,
      leaseMs,
      windowMs: 60_000,
      replyTtlS: 60,
    });
    return {
      stream,
      prefix,
      a: new BridgeScripts(redis, settings('a')),
      b: new BridgeScripts(redis, settings('b')),
    };
  }

  /**
   * The first step of a finish alone (lua/complete.lua): the reply recorded, then the instance
   * dies before it pushes or acknowledges anything.
   */
  function completeThenCrash(
    keys: DedupKeys,
    owner: string,
    reply: string,
    mode: 'store' | 'release',
  ): Promise<unknown> {
    const scripts = redis as unknown as Record<
      'bridgeComplete',
      (...args: unknown[]) => Promise<unknown>
    >;
    return scripts.bridgeComplete(2, keys.record, keys.waiters, owner, reply, mode, 60_000);
  }

  /** XCLAIM of `id` by `consumer` once idle `minIdleMs`: how many entries it claimed. */
  async function claimAs(
    consumer: string,
    stream: string,
    minIdleMs: number,
    id: string,
  ): Promise<number> {
    const claimed = (await redis.call('XCLAIM', stream, 'g', consumer, minIdleMs, id)) as unknown[];
    return claimed.length;
  }

  async function readAs(stream: string, consumer: string): Promise<string[]> {
    const answer = (await redis.xreadgroup('GROUP', 'g', consumer, 'STREAMS', stream, '>')) as
      [string, [string, string[]][]][] | null;
    return (answer?.[0]?.[1] ?? []).map(([id]) => id);
  }

  async function holderOf(stream: string, id: string): Promise<[string, number] | undefined> {
    const [row] = (await redis.xpending(stream, 'g', id, id, 1)) as [
      string,
      string,
      number,
      number,
    ][];
    return row ? [row[1], row[3]] : undefined;
  }

  it('a stale owner’s finish writes nothing; the record’s new owner answers, once', async () => {
    const { stream, prefix, a, b } = await setUp(100);
    const keys = dedupKeys(prefix, stream, 'c1');
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const first = await a.take(keys, id, 'replies');
    expect(first).toEqual({ kind: 'run', owner: `a/${id}/1` });

    // `a` stalls past its lease: `b` claims the entry (a second delivery) and takes the record.
    await eventually(
      'b to claim the idle entry',
      async () => (await claimAs('b', stream, 100, id)) === 1,
    );
    const second = await b.take(keys, id, 'replies');
    expect(second).toEqual({ kind: 'run', owner: `b/${id}/2` });

    // `a` wakes up: its keep-alive takes nothing back, its finish writes nothing.
    expect(await a.keepAlive([{ id, record: keys.record, owner: `a/${id}/1` }])).toEqual([false]);
    expect(await holderOf(stream, id)).toEqual(['b', 2]);
    expect(await a.finish(keys, id, `a/${id}/1`, 'stale', 'store', 'replies')).toBe(false);
    expect(await redis.llen('replies')).toBe(0);
    expect(await redis.hget(keys.record, 'o')).toBe(`b/${id}/2`);
    expect(await holderOf(stream, id)).toEqual(['b', 2]);

    expect(await b.finish(keys, id, `b/${id}/2`, 'fresh', 'store', 'replies')).toBe(true);
    expect(await redis.lrange('replies', 0, -1)).toEqual(['fresh']);
    expect(await holderOf(stream, id)).toBeUndefined();
    expect(await redis.hmget(keys.record, 's', 'r')).toEqual(['d', 'fresh']);
  });

  it('a claimer stands by while the owner’s lease is live, and the owner answers', async () => {
    const { stream, prefix, a, b } = await setUp(60_000);
    const keys = dedupKeys(prefix, stream, 'c2');
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const taken = await a.take(keys, id, 'replies-2');
    // A claim that did not wait for the idle time (forced): the record's lease still holds.
    await claimAs('b', stream, 0, id);

    expect(await b.take(keys, id, 'replies-2')).toEqual({ kind: 'standby' });
    expect(await a.keepAlive([{ id, record: keys.record, owner: `a/${id}/1` }])).toEqual([false]);
    expect(await holderOf(stream, id)).toEqual(['b', 2]);
    expect(
      taken.kind === 'run' && (await a.finish(keys, id, taken.owner, 'r', 'store', 'replies-2')),
    ).toBe(true);
    expect(await redis.lrange('replies-2', 0, -1)).toEqual(['r']);
    expect(await holderOf(stream, id)).toBeUndefined();
  });

  it('a live owner’s keep-alive resets the entry’s idle time and renews its lease', async () => {
    const { stream, prefix, a } = await setUp(1_000);
    const keys = dedupKeys(prefix, stream, 'c3');
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    await a.take(keys, id, undefined);
    const lease = Number(await redis.hget(keys.record, 'l'));
    await eventually('a millisecond to pass on the Redis clock', async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) > lease - 1_000;
    });

    expect(await a.keepAlive([{ id, record: keys.record, owner: `a/${id}/1` }])).toEqual([true]);
    expect(Number(await redis.hget(keys.record, 'l'))).toBeGreaterThan(lease);
    // The delivery count is unchanged: keeping is not delivering.
    expect(await holderOf(stream, id)).toEqual(['a', 1]);
  });

  it('parks a duplicate beside its running twin, acknowledged, and answers it from the twin’s finish', async () => {
    const { stream, prefix, a, b } = await setUp(60_000);
    const keys = dedupKeys(prefix, stream, 'c4');
    const twin = String(await redis.xadd(stream, '*', 'payload', '{}'));
    const copy = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    await claimAs('b', stream, 0, copy);
    const taken = await a.take(keys, twin, 'list-twin');

    // The copy, on the other instance, holds nothing while it waits.
    expect(await b.take(keys, copy, 'list-copy')).toEqual({ kind: 'waiting' });
    expect(await holderOf(stream, copy)).toBeUndefined();
    expect(await redis.lrange(keys.waiters, 0, -1)).toEqual(['list-copy']);

    expect(
      taken.kind === 'run' &&
        (await a.finish(keys, twin, taken.owner, 'reply', 'store', 'list-twin')),
    ).toBe(true);
    expect(await redis.lrange('list-twin', 0, -1)).toEqual(['reply']);
    expect(await redis.lrange('list-copy', 0, -1)).toEqual(['reply']);
    expect(await redis.exists(keys.waiters)).toBe(0);

    // A third copy later gets the stored reply at once.
    const late = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'b');
    expect(await b.take(keys, late, 'list-late')).toEqual({ kind: 'answered' });
    expect(await redis.lrange('list-late', 0, -1)).toEqual(['reply']);
    expect(await holderOf(stream, late)).toBeUndefined();
  });

  it('releases the record after a retryable failure: pushed to every waiter, never stored', async () => {
    const { stream, prefix, a } = await setUp(60_000);
    const keys = dedupKeys(prefix, stream, 'c5');
    const twin = String(await redis.xadd(stream, '*', 'payload', '{}'));
    const copy = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const taken = await a.take(keys, twin, 'list-5');
    expect(await a.take(keys, copy, 'list-5')).toEqual({ kind: 'waiting' });

    expect(
      taken.kind === 'run' &&
        (await a.finish(keys, twin, taken.owner, 'unavailable', 'release', 'list-5')),
    ).toBe(true);
    expect(await redis.lrange('list-5', 0, -1)).toEqual(['unavailable', 'unavailable']);
    expect(await redis.exists(keys.record, keys.waiters)).toBe(0);

    // A retry runs.
    const retry = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    expect(await a.take(keys, retry, 'list-5')).toEqual({ kind: 'run', owner: `a/${retry}/1` });
  });

  it('answers an entry without running it only while it is this consumer’s', async () => {
    const { stream, a, b } = await setUp(60_000);
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    await claimAs('b', stream, 0, id);

    expect(await a.answer(id, 'list-6', 'late')).toBe(false);
    expect(await b.answer(id, 'list-6', 'late')).toBe(true);
    expect(await redis.lrange('list-6', 0, -1)).toEqual(['late']);
    expect(await holderOf(stream, id)).toBeUndefined();
  });

  it('a crash after the reply is recorded: the redelivery pushes it to the list and the waiters, and runs nothing', async () => {
    const { stream, prefix, a, b } = await setUp(100);
    const keys = dedupKeys(prefix, stream, 'c7');
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    const copy = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const taken = await a.take(keys, id, 'list-7');
    expect(await a.take(keys, copy, 'list-7-copy')).toEqual({ kind: 'waiting' });
    expect(
      taken.kind === 'run' && (await completeThenCrash(keys, taken.owner, 'ok', 'store')),
    ).toEqual(['done', 'list-7-copy']);
    // A duplicate arriving now is answered with the recorded reply, not registered.
    expect(await redis.llen('list-7')).toBe(0);

    // `b` claims the entry once it is idle: its take finds the reply and answers every list.
    await eventually(
      'b to claim the idle entry',
      async () => (await claimAs('b', stream, 100, id)) === 1,
    );
    expect(await b.take(keys, id, 'list-7')).toEqual({ kind: 'answered' });
    expect(await redis.lrange('list-7', 0, -1)).toEqual(['ok']);
    expect(await redis.lrange('list-7-copy', 0, -1)).toEqual(['ok']);
    expect(await holderOf(stream, id)).toBeUndefined();
    expect(await redis.exists(keys.waiters)).toBe(0);
    expect(await redis.hmget(keys.record, 's', 'r')).toEqual(['d', 'ok']);
  });

  it('a crash after a reply not kept is recorded: copies and the run’s redelivery get it, then a copy runs again', async () => {
    const { stream, prefix, a, b } = await setUp(100);
    const keys = dedupKeys(prefix, stream, 'c8');
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    const waiting = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const taken = await a.take(keys, id, 'list-8');
    expect(await a.take(keys, waiting, 'list-8-waiter')).toEqual({ kind: 'waiting' });
    expect(
      taken.kind === 'run' && (await completeThenCrash(keys, taken.owner, 'again', 'release')),
    ).toEqual(['done', 'list-8-waiter']);

    // A copy now gets the reply on its own list; the waiters stay the run's entry's to answer.
    const copy = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'b');
    expect(await b.take(keys, copy, 'list-8-copy')).toEqual({ kind: 'answered' });
    expect(await redis.lrange('list-8-copy', 0, -1)).toEqual(['again']);
    expect(await redis.llen('list-8-waiter')).toBe(0);

    // The crashed run's own entry, claimed, answers its list and the waiter, and drops the record.
    await eventually(
      'b to claim the idle entry',
      async () => (await claimAs('b', stream, 100, id)) === 1,
    );
    expect(await b.take(keys, id, 'list-8')).toEqual({ kind: 'answered' });
    expect(await redis.lrange('list-8', 0, -1)).toEqual(['again']);
    expect(await redis.lrange('list-8-waiter', 0, -1)).toEqual(['again']);
    expect(await redis.exists(keys.record, keys.waiters)).toBe(0);
    expect(await holderOf(stream, id)).toBeUndefined();

    // Not kept: a copy after it runs again (a retry would).
    const retry = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'b');
    expect(await b.take(keys, retry, 'list-8-retry')).toEqual({
      kind: 'run',
      owner: `b/${retry}/1`,
    });
  });

  it('a copy answered while the run settles pushes to its own list only', async () => {
    const { stream, prefix, a, b } = await setUp(60_000);
    const keys = dedupKeys(prefix, stream, 'c10');
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    const waiting = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const taken = await a.take(keys, id, 'list-10');
    expect(await a.take(keys, waiting, 'list-10-waiter')).toEqual({ kind: 'waiting' });
    // The run recorded its reply and is pushing it (not settled yet) when a copy comes.
    expect(
      taken.kind === 'run' && (await completeThenCrash(keys, taken.owner, 'r10', 'store')),
    ).toEqual(['done', 'list-10-waiter']);
    const copy = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'b');
    expect(await b.take(keys, copy, 'list-10-copy')).toEqual({ kind: 'answered' });
    expect(await redis.lrange('list-10-copy', 0, -1)).toEqual(['r10']);
    expect(await redis.llen('list-10-waiter')).toBe(0);
    expect(await redis.lrange(keys.waiters, 0, -1)).toEqual(['list-10-waiter']);
  });

  it('a stale settle leaves a record taken again since alone', async () => {
    const { stream, prefix, a } = await setUp(60_000);
    const keys = dedupKeys(prefix, stream, 'c9');
    const id = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const first = await a.take(keys, id, 'list-9');
    expect(
      first.kind === 'run' && (await a.finish(keys, id, first.owner, 'x', 'release', 'list-9')),
    ).toBe(true);
    const retry = String(await redis.xadd(stream, '*', 'payload', '{}'));
    await readAs(stream, 'a');
    const second = await a.take(keys, retry, 'list-9');
    expect(second.kind).toBe('run');
    // The first run's finish again (a late repeat): the record now names the retry.
    expect(
      first.kind === 'run' && (await a.finish(keys, id, first.owner, 'x', 'release', 'list-9')),
    ).toBe(false);
    expect(await redis.hget(keys.record, 's')).toBe('r');
  });
}
