import { join } from 'node:path';
import type { BridgeClient } from './support/bridge-client';
import { serverIdOf, useBridgeProcesses } from './support/bridge-processes';
import { eventually } from './support/eventually';
import { describeWithRedis } from './support/redis-server';
import { roomEvents } from './support/room-history';
import { spawnServer } from './support/server-process';

/*
 * The bridge's big fault test: 10,000 `workspace.file_changed` requests (each publishes an event
 * carrying its request id) through two instances, run as processes of their own
 * (test/support/bridge-server.ts: the app with the test methods), one of them SIGKILLed midway.
 * Every request is answered exactly once with the position of its one event, none is lost, no
 * event is published twice (the rooms' histories hold each request id once), nothing is left
 * pending, and the dead letters hold exactly the invalid entries injected among them.
 */

const REQUESTS = 10_000;
/** Rooms the requests are spread over (`workspace:w0` …), each keeping all of its events. */
const ROOMS = 10;
/** Invalid entries among them: half not JSON, half JSON that is not an rpc request. */
const INVALID = 50;
/** Replies seen before the kill: midway through the valid ones. */
const KILL_AFTER = 3_000;
const VISIBILITY_MS = 1_000;
const ENTRY = join('test', 'support', 'bridge-server.ts');

describeWithRedis('bridge: 10,000 requests, an instance killed midway', () => {
  const processes = useBridgeProcesses();
  const { servers } = processes;
  let client: BridgeClient;

  it('answers every request exactly once, loses none, and leaves nothing pending', async () => {
    const stream = `kill-${process.pid}`;
    const settings = {
      REDIS_URL: processes.redis.url,
      REDIS_KEY_PREFIX: `kill${process.pid}:`,
      RPC_REQUEST_STREAM: stream,
      RPC_DEAD_LETTER_STREAM: `${stream}:dlq`,
      RPC_VISIBILITY_TIMEOUT_MS: String(VISIBILITY_MS),
      RPC_CONCURRENCY: '50',
      HISTORY_SIZE: String(2 * (REQUESTS / ROOMS)),
      // Every event stays in its room's history, where the test looks for it.
      HISTORY_ROOM_MAX_BYTES: String(16 * 1_048_576),
    };
    const prefix = settings.REDIS_KEY_PREFIX;
    servers.push(spawnServer(settings, ENTRY), spawnServer(settings, ENTRY));
    const ids = await Promise.all(servers.map(serverIdOf));
    client = processes.client(stream);
    /** The request ids the rooms' histories hold an event of, once per event. */
    async function publishedIds(): Promise<string[]> {
      const found: string[] = [];
      for (let room = 0; room < ROOMS; room++) {
        const kept = await roomEvents(client.redis, prefix, `workspace:w${room}`);
        found.push(...kept.map((event) => String(event.data.file_path)));
      }
      return found;
    }

    const replies = 'list:response:kill';

    // The requests, written in pipelines of 500 with the invalid ones spread among them.
    const expected = new Set<string>();
    const invalidIds = new Set<string>();
    const entryOf = new Map<string, string>();
    const every = Math.floor(REQUESTS / INVALID);
    for (let start = 0; start < REQUESTS; start += 500) {
      const pipeline = client.redis.pipeline();
      const kinds: string[] = [];
      for (let i = start; i < start + 500; i++) {
        const correlationId = `c${i}`;
        expected.add(correlationId);
        const payload = {
          type: 'rpc',
          method: 'workspace.file_changed',
          params: { workspace_id: `w${i % ROOMS}`, file_path: correlationId, event_type: 'modify' },
          correlation_id: correlationId,
          reply_to: replies,
          timeout: 120,
        };
        pipeline.xadd(stream, '*', 'payload', JSON.stringify(payload));
        kinds.push(correlationId);
        if (i % every === 0) {
          const n = i / every;
          if (n % 2 === 0) {
            pipeline.xadd(stream, '*', 'payload', `{not json ${n}`);
          } else {
            // Names a reply list: answered invalid_params, and dead-lettered.
            expected.add(`bad${n}`);
            const notRpc = { type: 'push', correlation_id: `bad${n}`, reply_to: replies };
            pipeline.xadd(stream, '*', 'payload', JSON.stringify(notRpc));
          }
          kinds.push('invalid');
        }
      }
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([error, id], k) => {
        if (error) throw error;
        if (kinds[k] === 'invalid') invalidIds.add(String(id));
        else entryOf.set(String(id), kinds[k]);
      });
    }
    expect(invalidIds.size).toBe(INVALID);

    await eventually('replies midway', () => client.redis.llen(replies), {
      done: (n) => n >= KILL_AFTER,
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    const [victim, survivor] = servers;
    victim.child.kill('SIGKILL');
    await victim.exited;
    // The victim held requests it had read and not answered: the survivor must claim them.
    const summary = (await client.redis.xpending(stream, client.group)) as [
      number,
      string,
      string,
      [string, string][] | null,
    ];
    const heldByVictim = Number(summary[3]?.find(([consumer]) => consumer === ids[0])?.[1] ?? 0);
    expect(heldByVictim).toBeGreaterThan(0);
    // Of those, the ones whose event was already published: the survivor runs them again.
    const held = (await client.redis.xpending(stream, client.group, '-', '+', 1_000, ids[0])) as [
      string,
    ][];
    const publishedBefore = new Set(await publishedIds());
    const rerun = held.filter(([id]) => publishedBefore.has(entryOf.get(id) ?? '')).length;
    console.log(
      `SIGKILL: the victim held ${heldByVictim} request(s), ${rerun} of them published already`,
    );

    await eventually('every request answered', () => client.redis.llen(replies), {
      done: (n) => n >= expected.size,
      timeoutMs: 120_000,
      intervalMs: 50,
    });
    await client.settled(30_000);

    const answers = (await client.redis.lrange(replies, 0, -1)).map(
      (raw) =>
        JSON.parse(raw) as {
          correlation_id: string;
          type: string;
          result?: { room: string; offset: number };
          error_code?: string;
        },
    );
    const perId = new Map<string, number>();
    for (const answer of answers) {
      perId.set(answer.correlation_id, (perId.get(answer.correlation_id) ?? 0) + 1);
    }
    expect(answers).toHaveLength(expected.size);
    expect([...perId.keys()].sort()).toEqual([...expected].sort());
    expect([...perId.values()].every((count) => count === 1)).toBe(true);
    const valid = answers.filter((a) => a.correlation_id.startsWith('c'));
    expect(valid.every((a) => a.type === 'response')).toBe(true);
    const refused = answers.filter((a) => a.correlation_id.startsWith('bad'));
    expect(refused).toHaveLength(INVALID / 2);
    expect(refused.every((a) => a.type === 'error' && a.error_code === 'invalid_params')).toBe(
      true,
    );
    // One event per request, at the position its answer gave: none lost, none duplicated.
    const events = new Map<string, number[]>();
    for (let room = 0; room < ROOMS; room++) {
      for (const event of await roomEvents(client.redis, prefix, `workspace:w${room}`)) {
        const id = String(event.data.file_path);
        events.set(id, [...(events.get(id) ?? []), event.offset]);
      }
    }
    const duplicated = [...events.values()].filter((offsets) => offsets.length > 1).length;
    expect(duplicated).toBe(0);
    expect(events.size).toBe(REQUESTS);
    for (const answer of valid) {
      expect(events.get(answer.correlation_id)).toEqual([answer.result?.offset]);
    }

    expect(await client.pending()).toBe(0);
    const letters = await client.deadLetterEntries();
    expect(new Set(letters.map((l) => l.original_id))).toEqual(invalidIds);
    expect(letters).toHaveLength(INVALID);
    expect(survivor.child.exitCode).toBeNull();
  }, 240_000);
});
