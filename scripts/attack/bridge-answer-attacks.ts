/*
 * The bridge's answering side, attacked through Redis as a backend would: `reply_to` naming keys
 * the server owns, a Redis stall (SIGSTOP/SIGCONT of redis-server) in the middle of a drain, and
 * read-only requests whose replies dedup records would keep.
 * Each attack starts its own throwaway redis-server on loopback and stops it afterwards.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisServer } from '../../test/support/redis-server';
import { Attack, AttackSetup, Options, round } from './harness';

const PREFIX = 'chat:';
const STREAM = 'stream:requests';
const GROUP = 'rpc_group';
const DEAD_LETTERS = 'stream:requests:dlq';

/** The Redis of the attack running now (one attack per process). */
let redis: RedisServer | undefined;

async function startRedis(env: Record<string, string>): Promise<AttackSetup> {
  redis = await RedisServer.start();
  const started = redis;
  return {
    env: { REDIS_URL: started.url, LOG_LEVEL: 'log', ...env },
    cleanup: () => started.stop(),
  };
}

function currentRedis(): RedisServer {
  if (!redis) throw new Error('the attack’s redis-server was not started');
  return redis;
}

/** A request as seed 003's Django client writes it. */
function request(
  method: string,
  params: object,
  correlationId: string,
  replyTo: string | undefined,
): string {
  return JSON.stringify({
    type: 'rpc',
    method,
    params,
    correlation_id: correlationId,
    ...(replyTo !== undefined && { reply_to: replyTo }),
    timeout: 120,
  });
}

/** Entries of the group acknowledged so far (entries-read − pending), and its lag. */
async function progress(client: Redis): Promise<{ done: number; lag: number }> {
  const groups = (await client.xinfo('GROUPS', STREAM).catch(() => [])) as unknown[][];
  for (const group of groups) {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < group.length; i += 2) fields.set(String(group[i]), group[i + 1]);
    if (fields.get('name') !== GROUP) continue;
    const read = Number(fields.get('entries-read') ?? 0);
    return { done: read - Number(fields.get('pending')), lag: Number(fields.get('lag') ?? 0) };
  }
  return { done: 0, lag: Number.POSITIVE_INFINITY };
}

/** The first reply in each list (undefined where none yet), by pipelined LINDEX. */
async function firstReplies(client: Redis, lists: string[]): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < lists.length; i += 2_000) {
    const pipeline = client.pipeline();
    for (const list of lists.slice(i, i + 2_000)) pipeline.lindex(list, -1);
    for (const [, value] of (await pipeline.exec()) ?? []) {
      out.push(typeof value === 'string' ? value : undefined);
    }
  }
  return out;
}

/** Waits (bounded) until every list holds a reply; returns the replies. */
async function awaitReplies(
  client: Redis,
  lists: string[],
  timeoutMs: number,
): Promise<(string | undefined)[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const replies = await firstReplies(client, lists);
    if (replies.every((r) => r !== undefined) || Date.now() > deadline) return replies;
    await delay(500);
  }
}

/** `success`, or the error's code and retryability, per reply. */
function tallyReplies(replies: (string | undefined)[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const raw of replies) {
    let key = 'no reply';
    if (raw !== undefined) {
      const reply = JSON.parse(raw) as {
        success?: boolean;
        error?: { code?: string; retryable?: boolean };
      };
      key = reply.success
        ? 'success'
        : `${reply.error?.code ?? '?'} (retryable: ${String(reply.error?.retryable ?? false)})`;
    }
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

/** Publications per request number in the rooms' histories (`f-<n>-` in each). */
async function publications(client: Redis, rooms: number): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  const keys = Array.from({ length: rooms }, (_, room) => `${PREFIX}{workspace:w${room}}:hist`);
  for (const key of [...keys, `${PREFIX}{~users}:hist`]) {
    const entries = await client.xrange(key, '-', '+');
    for (const [, fields] of entries) {
      const match = /f-(\d+)-/.exec(fields.join(' '));
      if (match) seen.set(Number(match[1]), (seen.get(Number(match[1])) ?? 0) + 1);
    }
  }
  return seen;
}

/** Dedup records left, for requests with and without a reply list. */
async function countRecords(client: Redis, ids: string[]): Promise<number> {
  let count = 0;
  for (let i = 0; i < ids.length; i += 2_000) {
    const keys = ids.slice(i, i + 2_000).map((id) => `${PREFIX}{#rpc:${id}}:record`);
    count += await client.exists(...keys);
  }
  return count;
}

/** Dedup records holding a stored error reply, by error code. */
async function storedErrors(client: Redis, ids: string[]): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (let i = 0; i < ids.length; i += 2_000) {
    const pipeline = client.pipeline();
    for (const id of ids.slice(i, i + 2_000)) pipeline.hget(`${PREFIX}{#rpc:${id}}:record`, 'r');
    for (const [, value] of (await pipeline.exec()) ?? []) {
      if (typeof value !== 'string') continue;
      const reply = JSON.parse(value) as { success?: boolean; error?: { code?: string } };
      if (reply.success) continue;
      const code = reply.error?.code ?? '?';
      tally[code] = (tally[code] ?? 0) + 1;
    }
  }
  return tally;
}

/** A key's type, TTL and length (entries of a stream, items of a list, members of a set…). */
async function keyState(client: Redis, key: string): Promise<string> {
  const type = await client.type(key);
  const ttl = await client.pttl(key);
  const size =
    type === 'stream'
      ? await client.xlen(key)
      : type === 'list'
        ? await client.llen(key)
        : type === 'set'
          ? await client.scard(key)
          : type === 'hash'
            ? await client.hlen(key)
            : type === 'string'
              ? await client.strlen(key)
              : 0;
  return `${type}, ttl ${ttl}, size ${size}`;
}

export const bridgeAnswerAttacks: Record<string, Attack> = {
  'reply-to': {
    summary: '[--queued 62000]  bridge requests whose reply_to names keys the server owns',
    setup: () => startRedis({ MAX_CONNECTIONS_PER_USER: '2' }),
    async run(server, options: Options) {
      const queued = Number(options.queued ?? 62_000);
      const client = new Redis(currentRedis().url);
      try {
        // A room with history, a per-user count key and a dedup record, as the server keeps them.
        const id = randomUUID();
        await client.xadd(
          STREAM,
          '*',
          'payload',
          request(
            'workspace.file_changed',
            { workspace_id: 'victim', file_path: 'a', event_type: 'modify' },
            id,
            `list:response:${id}`,
          ),
        );
        await awaitReplies(client, [`list:response:${id}`], 20_000);
        const health = (await (await fetch(`http://127.0.0.1:${server.port}/health`)).json()) as {
          server_id: string;
        };
        const countKey = `${PREFIX}{#i:${health.server_id}}:u:victim`;
        await client.sadd(countKey, 'c1', 'c2');
        // The bad entries first, then a backlog, in one MULTI: they are read while it is queued.
        const victims = {
          requestStream: STREAM,
          roomMeta: `${PREFIX}{workspace:victim}:meta`,
          roomHistory: `${PREFIX}{workspace:victim}:hist`,
          userCount: countKey,
          dedupRecord: `${PREFIX}{#rpc:${id}}:record`,
          // Absent until the server writes them: a reply list there breaks what comes next.
          freshRoomMeta: `${PREFIX}{workspace:fresh}:meta`,
          freshUserCount: `${PREFIX}{#i:${health.server_id}}:u:newcomer`,
        };
        const before: Record<string, string> = {};
        for (const [name, key] of Object.entries(victims))
          before[name] = await keyState(client, key);
        const multi = client.multi();
        for (const [name, key] of Object.entries(victims)) {
          multi.xadd(
            STREAM,
            '*',
            'payload',
            request('rooms', {}, `attack-${name}-${randomUUID()}`, key),
          );
        }
        for (let i = 0; i < queued; i++) {
          multi.xadd(
            STREAM,
            '*',
            'payload',
            request(
              'workspace.file_changed',
              { workspace_id: `q${i % 100}`, file_path: `q-${i}-`, event_type: 'modify' },
              `queued-${i}`,
              undefined,
            ),
          );
        }
        await multi.exec();
        const deadline = Date.now() + 90_000;
        while (Date.now() < deadline && (await progress(client)).lag > 0) await delay(500);
        await delay(2_000);
        const after: Record<string, string> = {};
        for (const [name, key] of Object.entries(victims))
          after[name] = await keyState(client, key);
        const letters = await client.xrange(DEAD_LETTERS, '-', '+');
        const reasons: Record<string, number> = {};
        for (const [, fields] of letters) {
          const reason = fields[fields.indexOf('reason') + 1] ?? '?';
          reasons[reason] = (reasons[reason] ?? 0) + 1;
        }
        const { done } = await progress(client);
        // The room whose meta key was named: can an event still be published into it?
        const probeId = randomUUID();
        await client.xadd(
          STREAM,
          '*',
          'payload',
          request(
            'workspace.file_changed',
            { workspace_id: 'fresh', file_path: 'p', event_type: 'modify' },
            probeId,
            `list:response:${probeId}`,
          ),
        );
        const [probe] = await awaitReplies(client, [`list:response:${probeId}`], 20_000);
        return {
          freshRoomPublish: tallyReplies([probe]),
          queued,
          handled: done,
          pending: Number(((await client.xpending(STREAM, GROUP)) as [number])[0]),
          keys: Object.fromEntries(
            Object.keys(victims).map((name) => [name, `${before[name]} -> ${after[name]}`]),
          ),
          deadLetters: reasons,
        };
      } finally {
        client.disconnect();
      }
    },
  },

  'bridge-stall': {
    summary: '[--requests 20000] [--stall-ms 5000]  SIGSTOP redis-server mid-drain of the bridge',
    setup: () => startRedis({ HISTORY_SIZE: '10000' }),
    async run(server, options: Options) {
      const total = Number(options.requests ?? 20_000);
      const stallMs = Number(options['stall-ms'] ?? 5_000);
      const rooms = 50;
      const client = new Redis(currentRedis().url);
      try {
        const ids = Array.from({ length: total }, (_, n) => `stall-${n}-${randomUUID()}`);
        // A mix: one in ten fire-and-forget, one in ten a notification, one in twenty a history
        // read, the others events with a reply; every publication names its request (`f-<n>-`).
        const fireAndForget = (n: number): boolean => n % 10 === 1;
        const publishes = (n: number): boolean => n % 20 !== 5;
        const payload = (n: number, replyTo: string | undefined): string => {
          if (n % 10 === 3) {
            const params = { user_id: `u${n}`, title: `f-${n}-`, message: 'm', type: 'info' };
            return request('notification.send', params, ids[n], replyTo);
          }
          if (n % 20 === 5) {
            const params = { room: `workspace:w${n % rooms}`, limit: 5 };
            return request('history', params, ids[n], replyTo);
          }
          const params = {
            workspace_id: `w${n % rooms}`,
            file_path: `f-${n}-`,
            event_type: 'modify',
          };
          return request('workspace.file_changed', params, ids[n], replyTo);
        };
        const replied = ids.flatMap((_, n) => (fireAndForget(n) ? [] : [n]));
        const lists = replied.map((n) => `list:response:${ids[n]}`);
        for (let n = 0; n < total; n += 1_000) {
          const pipeline = client.pipeline();
          for (let i = n; i < Math.min(total, n + 1_000); i++) {
            const replyTo = fireAndForget(i) ? undefined : `list:response:${ids[i]}`;
            pipeline.xadd(STREAM, '*', 'payload', payload(i, replyTo));
          }
          await pipeline.exec();
        }
        // Mid-drain: a quarter handled.
        const started = Date.now();
        while ((await progress(client)).done < total / 4 && Date.now() - started < 60_000) {
          await delay(20);
        }
        const linesBefore = { error: server.errorLines, warn: server.warnLines };
        const redisServer = currentRedis();
        redisServer.pause();
        await delay(stallMs);
        redisServer.resume();
        const replies = await awaitReplies(client, lists, 90_000);
        // Fire-and-forget requests failed for want of Redis run again after the visibility timeout.
        const settle = Date.now() + 90_000;
        while (Date.now() < settle && (await client.xpending(STREAM, GROUP))[0] !== 0) {
          await delay(500);
        }
        const stallLines = {
          error: server.errorLines - linesBefore.error,
          warn: server.warnLines - linesBefore.warn,
        };
        const published = await publications(client, rooms);
        const twice = [...published.values()].filter((count) => count > 1).length;
        const stored = await storedErrors(client, ids);
        const records = await countRecords(client, ids);
        // Every request answered with an error is sent again under its correlation id.
        const failed = replies.flatMap((raw, i) =>
          raw !== undefined && !(JSON.parse(raw) as { success?: boolean }).success
            ? [replied[i]]
            : [],
        );
        const retryLists = failed.map((n) => `list:response:retry:${ids[n]}`);
        const pipeline = client.pipeline();
        failed.forEach((n, i) => pipeline.xadd(STREAM, '*', 'payload', payload(n, retryLists[i])));
        await pipeline.exec();
        const retried = await awaitReplies(client, retryLists, 60_000);
        const afterRetry = await publications(client, rooms);
        const expected = ids.filter((_, n) => publishes(n)).length;
        return {
          requests: total,
          stallMs,
          replies: tallyReplies(replies),
          storedErrors: stored,
          dedupRecords: records,
          executedTwice: twice,
          neverPublished: expected - afterRetry.size,
          executedTwiceAfterRetry: [...afterRetry.values()].filter((count) => count > 1).length,
          retries: { sent: failed.length, replies: tallyReplies(retried) },
          logLinesFromStallToDrained: stallLines,
          drainedInS: round((Date.now() - started) / 1000),
        };
      } finally {
        client.disconnect();
      }
    },
  },
  'dedup-records': {
    summary:
      '[--requests 1000]  history requests with their own reply_to against a room of ~256 KiB of history',
    setup: () => startRedis({}),
    async run(_server, options: Options) {
      const requests = Number(options.requests ?? 1_000);
      const client = new Redis(currentRedis().url);
      const usedMemory = async (): Promise<number> =>
        Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1] ?? 0);
      try {
        // ~256 KiB of history in one room: 52 events of 5,000 characters, fire-and-forget.
        const fill = client.pipeline();
        for (let i = 0; i < 52; i++) {
          const params = {
            workspace_id: 'big',
            file_path: `f${i}`,
            event_type: 'modify',
            content: `${i}:`.padEnd(5_000, 'x'),
          };
          fill.xadd(
            STREAM,
            '*',
            'payload',
            request('workspace.file_changed', params, `fill-${i}`, undefined),
          );
        }
        await fill.exec();
        const filled = Date.now() + 60_000;
        while (Date.now() < filled && (await progress(client)).done < 52) await delay(200);
        const before = await usedMemory();
        const ids = Array.from({ length: requests }, (_, i) => `history-${i}-${randomUUID()}`);
        const lists = ids.map((id) => `list:response:${id}`);
        const multi = client.multi();
        ids.forEach((id, i) =>
          multi.xadd(
            STREAM,
            '*',
            'payload',
            request('history', { room: 'workspace:big', limit: 100 }, id, lists[i]),
          ),
        );
        const started = Date.now();
        await multi.exec();
        // The client pops each reply as it comes (as the Django client's BRPOP does).
        let answered = 0;
        let replyBytes = 0;
        let peak = before;
        const deadline = Date.now() + 120_000;
        let waiting = [...lists];
        while (waiting.length > 0 && Date.now() < deadline) {
          const pipeline = client.pipeline();
          for (const list of waiting) pipeline.rpop(list);
          const popped = (await pipeline.exec()) ?? [];
          const left: string[] = [];
          popped.forEach(([, value], i) => {
            if (typeof value === 'string') {
              answered += 1;
              replyBytes += Buffer.byteLength(value);
            } else left.push(waiting[i]);
          });
          waiting = left;
          peak = Math.max(peak, await usedMemory());
          if (waiting.length > 0) await delay(100);
        }
        const after = await usedMemory();
        return {
          requests,
          answered,
          meanReplyBytes: answered === 0 ? 0 : Math.round(replyBytes / answered),
          answeredInS: round((Date.now() - started) / 1000),
          usedMemoryMb: {
            before: round(before / 1e6),
            peak: round(peak / 1e6),
            after: round(after / 1e6),
          },
          dedupRecords: await countRecords(client, ids),
        };
      } finally {
        client.disconnect();
      }
    },
  },
};
