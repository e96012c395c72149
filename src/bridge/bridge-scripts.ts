import { type RedisClient, isCluster } from '../redis/redis-client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DedupKeys } from './dedup';

/**
 * The scripts in lua/, each run with lua/library.lua in front; their keys are counted per call.
 * On a Redis Cluster each call touches keys of one slot: the stream's (stream, dead letters,
 * records) or one reply list's.
 */
const FILES = {
  bridgeTake: 'take.lua',
  bridgeFinish: 'finish.lua',
  bridgeComplete: 'complete.lua',
  bridgeSettle: 'settle.lua',
  bridgePush: 'push.lua',
  bridgeAnswer: 'answer.lua',
  bridgeKeepAlive: 'keep-alive.lua',
  bridgeRead: 'read.lua',
  bridgeTrim: 'trim.lua',
} as const;
type ScriptName = keyof typeof FILES;
type ScriptCommand = (numberOfKeys: number, ...args: (string | number)[]) => Promise<unknown>;

const LUA_DIR = join(__dirname, 'lua');

/** Where the bridge reads and answers, and for how long what it writes holds. */
export interface BridgeScriptSettings {
  readonly stream: string;
  readonly group: string;
  readonly deadLetters: string;
  /** Dead letters kept (RPC_DEAD_LETTER_MAXLEN) by the read script; default 10,000. */
  readonly deadLetterMaxLen?: number;
  /**
   * RPC_MAX_DELIVERIES (default 5): an oversized entry delivered more often is dead-lettered by the
   * read script, unanswered; below that it is returned for the bridge to answer.
   */
  readonly maxDeliveries?: number;
  /** This instance's consumer name in the group. */
  readonly consumer: string;
  /** How long an owner's lease lasts unless renewed (RPC_VISIBILITY_TIMEOUT_MS). */
  readonly leaseMs: number;
  /** RPC_DEDUP_WINDOW_MS */
  readonly windowMs: number;
  /** RPC_RESPONSE_TTL_S */
  readonly replyTtlS: number;
}

/**
 * What a delivery does with its correlation id (lua/take.lua): `run` it as the record's owner;
 * or not: `lost` (another consumer holds the entry), `answered` (the record's reply pushed, the
 * entry acked), `waiting` (registered beside the running twin, acked), `standby` (another
 * delivery of this entry runs under a live lease; the entry stays pending).
 */
export type TakeOutcome =
  | { readonly kind: 'lost' | 'answered' | 'waiting' | 'standby' }
  | { readonly kind: 'run'; readonly owner: string };

/**
 * An entry as the bridge gets it (lua/read.lua): its payload when within the limit; of a larger
 * one only its size and its first and last bytes; `payload` undefined: the entry has none.
 */
export interface ReadEntry {
  readonly id: string;
  /** Its delivery count, this delivery included. */
  readonly deliveries: number;
  readonly payload?: string;
  readonly oversized?: { readonly bytes: number; readonly head: string; readonly tail: string };
}

/** How much one read may bring (lua/read.lua). */
export interface ReadBounds {
  /** Entries at most. */
  readonly count: number;
  /** A payload over this many bytes stays in Redis (MAX_PAYLOAD_BYTES). */
  readonly maxPayloadBytes: number;
  /** Bytes of payload at most in the answer, plus one entry. */
  readonly budgetBytes: number;
}

/**
 * Bytes one read script goes through in Redis (entries over the limit included), plus one entry:
 * bounds how long a call holds Redis (about 7 ms a MiB, copying entries into Lua).
 */
const SCAN_MAX_BYTES = 8 * 1024 * 1024;
/** Bytes of an oversized payload's start and of its end that reach the bridge. */
export const OVERSIZED_KEPT_BYTES = 1024;

/** One entry kept alive: its id and, once it runs, its record and the owner it holds. */
export interface KeptEntry {
  readonly id: string;
  readonly record?: string;
  readonly owner?: string;
}

/**
 * The bridge's steps on Redis, defined on its own connection (EVALSHA). Each script checks who
 * holds the entry or the record before it writes. On one Redis an answer (the reply recorded,
 * pushed to its lists, the entry acknowledged) is one script: a reply is pushed once. On a Redis
 * Cluster a reply list is the backend's name, in another slot than the stream's: the reply is
 * recorded in the stream's slot, pushed by a script of its own per list, then the entry is
 * acknowledged; a crash in between redelivers the entry, which pushes the recorded reply again
 * (a list may get it twice) and never runs the method again.
 */
export class BridgeScripts {
  /** One Redis: every step of an answer in one script (see above). */
  private readonly whole: boolean;

  constructor(
    private readonly client: RedisClient,
    private readonly settings: BridgeScriptSettings,
  ) {
    this.whole = !isCluster(client);
    const library = readFileSync(join(LUA_DIR, 'library.lua'), 'utf8');
    for (const [name, file] of Object.entries(FILES)) {
      if (name in client) continue;
      const body = readFileSync(join(LUA_DIR, file), 'utf8');
      client.defineCommand(name, { lua: `${library}\n${body}` });
    }
  }

  /**
   * Takes the record for this delivery of `id`, or answers or parks it (see TakeOutcome). A
   * record that holds a reply has it pushed to `replyTo` (and to the record's waiters when `id`
   * is the run's own entry, redelivered after a crash), then the entry is settled.
   */
  async take(keys: DedupKeys, id: string, replyTo: string | undefined): Promise<TakeOutcome> {
    const { stream, group, consumer, leaseMs, windowMs, replyTtlS } = this.settings;
    const answer = (await this.run(
      'bridgeTake',
      [keys.record, keys.waiters, stream, ...(this.whole ? optional(replyTo) : [])],
      [group, id, consumer, leaseMs, windowMs, replyTo ?? '', replyTtlS],
    )) as string[];
    const [kind, ...rest] = answer;
    if (kind === 'run' && rest[0] !== undefined) return { kind, owner: rest[0] };
    if (kind === 'answered' && rest.length > 0) {
      const [reply, owner, ...waiters] = rest;
      await this.pushAll([...optional(replyTo), ...waiters], reply);
      await this.settle(keys, id, owner);
      return { kind };
    }
    if (kind === 'lost' || kind === 'answered' || kind === 'waiting' || kind === 'standby') {
      return { kind };
    }
    throw new Error(`unexpected answer of the take script: ${kind}`);
  }

  /**
   * Records `reply` as the run's answer, `store`d for the dedup window or final until answered
   * (`release`: then dropped, and a duplicate runs again), pushes it to the request's list and
   * every waiter, then drops the waiters and acknowledges `id`; false, writing nothing, when the
   * record no longer names `owner`.
   */
  async finish(
    keys: DedupKeys,
    id: string,
    owner: string,
    reply: string,
    mode: 'store' | 'release',
    replyTo: string | undefined,
  ): Promise<boolean> {
    const { stream, group, windowMs, replyTtlS } = this.settings;
    if (this.whole) {
      const done = await this.run(
        'bridgeFinish',
        [keys.record, keys.waiters, stream, ...optional(replyTo)],
        [group, id, owner, reply, mode, windowMs, replyTtlS],
      );
      return Number(done) === 1;
    }
    const completed = (await this.run(
      'bridgeComplete',
      [keys.record, keys.waiters],
      [owner, reply, mode, windowMs],
    )) as string[];
    if (completed[0] !== 'done') return false;
    await this.pushAll([...optional(replyTo), ...completed.slice(1)], reply);
    await this.settle(keys, id, owner);
    return true;
  }

  /**
   * Answers `id` without running it (`reply` '' for none), only while this consumer holds the
   * entry: pushes the reply, writes a dead letter of `deadLetter`'s fields when given and
   * acknowledges it (once); false when another consumer holds the entry. On a Redis Cluster the
   * push is a call of its own before the rest: a crash before the acknowledgement pushes the
   * reply again at the redelivery, and a claim between the holder's check and the push (a stall
   * past the visibility timeout) can push it twice.
   */
  async answer(
    id: string,
    replyTo: string | undefined,
    reply: string,
    deadLetter?: { readonly maxLen: number; readonly fields: readonly string[] },
  ): Promise<boolean> {
    const { stream, group, deadLetters, consumer, replyTtlS } = this.settings;
    const pushed = replyTo !== undefined && reply !== '';
    if (pushed && !this.whole) {
      if ((await this.holderOf(id)) !== consumer) return false;
      await this.pushAll([replyTo], reply);
    }
    const done = await this.run(
      'bridgeAnswer',
      [stream, deadLetters, ...(pushed && this.whole ? [replyTo] : [])],
      [
        group,
        id,
        consumer,
        reply,
        replyTtlS,
        deadLetter?.maxLen ?? 0,
        ...(deadLetter?.fields ?? []),
      ],
    );
    return Number(done) === 1;
  }

  /** Resets the idle time of the entries still ours and renews their owners' leases. */
  async keepAlive(entries: readonly KeptEntry[]): Promise<boolean[]> {
    const { stream, group, consumer, leaseMs, windowMs } = this.settings;
    const ours = (await this.run(
      'bridgeKeepAlive',
      [stream, ...entries.map((entry) => entry.record ?? stream)],
      [group, consumer, leaseMs, windowMs, ...entries.flatMap((e) => [e.id, e.owner ?? ''])],
    )) as number[];
    return ours.map((flag) => flag === 1);
  }

  /** New entries of the stream for this consumer, by bytes (see ReadBounds). */
  async readNew(bounds: ReadBounds): Promise<ReadEntry[]> {
    const [, entries] = await this.read('new', bounds, []);
    return entries;
  }

  /**
   * Entries pending longer than `minIdleMs` claimed for this consumer (XAUTOCLAIM from `cursor`),
   * by bytes; also the cursor the next scan starts from ('0-0': the scan went round). An
   * oversized entry delivered more than `maxDeliveries` times is dead-lettered and acknowledged in
   * Redis, not returned.
   */
  async claim(
    bounds: ReadBounds,
    minIdleMs: number,
    cursor: string,
  ): Promise<{ next: string; entries: ReadEntry[] }> {
    const { deadLetterMaxLen = 10_000, maxDeliveries = 5 } = this.settings;
    const [next, entries] = await this.read('claim', bounds, [
      minIdleMs,
      cursor,
      deadLetterMaxLen,
      maxDeliveries,
    ]);
    return { next, entries };
  }

  /**
   * Takes back, by bytes, the given entries while they are still pending on this consumer (an
   * earlier read or claim took them but its answer never came: a timeout), with their delivery
   * count unchanged ('+<id>': one more); one another consumer holds is left to it. Also how many
   * of `ids` were looked
   * at: the others (past the bounds) are for the next call.
   */
  async retake(
    bounds: ReadBounds,
    ids: readonly string[],
  ): Promise<{ looked: number; entries: ReadEntry[] }> {
    const { deadLetterMaxLen = 10_000, maxDeliveries = 5 } = this.settings;
    const [looked, entries] = await this.read('mine', bounds, [
      0,
      '0-0',
      deadLetterMaxLen,
      maxDeliveries,
      ...ids,
    ]);
    return { looked: Number(looked), entries };
  }

  /** The consumer the group's pending list gives `id` to; undefined when it is not pending. */
  private async holderOf(id: string): Promise<string | undefined> {
    const { stream, group } = this.settings;
    const [row] = (await this.client.xpending(stream, group, id, id, 1)) as [string, string][];
    return row?.[1];
  }

  /** This consumer's pending entries after `after` (exclusive; '-' from the start): id and idle ms. */
  async ownPending(after: string, count: number): Promise<{ id: string; idleMs: number }[]> {
    const { stream, group, consumer } = this.settings;
    const start = after === '-' ? '-' : `(${after}`;
    const rows = (await this.client.xpending(stream, group, start, '+', count, consumer)) as [
      string,
      string,
      number,
      number,
    ][];
    return rows.map(([id, , idleMs]) => ({ id: String(id), idleMs: Number(idleMs) }));
  }

  /**
   * Trims the entries every group of the stream is done with (lua/trim.lua), at most `limit`
   * (whole radix nodes); how many.
   */
  async trim(limit = 10_000): Promise<number> {
    return Number(await this.run('bridgeTrim', [this.settings.stream], [limit]));
  }

  private async read(
    mode: 'new' | 'claim' | 'mine',
    bounds: ReadBounds,
    extra: (string | number)[],
  ): Promise<[string, ReadEntry[]]> {
    const { stream, group, consumer, deadLetters } = this.settings;
    const [cursor, rows] = (await this.run(
      'bridgeRead',
      [stream, deadLetters],
      [
        group,
        consumer,
        mode,
        bounds.count,
        bounds.maxPayloadBytes,
        bounds.budgetBytes,
        SCAN_MAX_BYTES,
        OVERSIZED_KEPT_BYTES,
        ...extra,
      ],
    )) as [string, [string, number, string, ...(string | number)[]][]];
    return [String(cursor), rows.map(readEntryOf)];
  }

  /** Pushes `reply` to each list (lua/push.lua: a list or an absent key only), one call each. */
  private async pushAll(lists: readonly string[], reply: string): Promise<void> {
    const ttl = this.settings.replyTtlS;
    await Promise.all(lists.map((list) => this.run('bridgePush', [list], [reply, ttl])));
  }

  /** Drops the waiters (and a record not kept) of an answered run, and acknowledges `id`. */
  private async settle(keys: DedupKeys, id: string, owner: string): Promise<void> {
    const { stream, group } = this.settings;
    await this.run('bridgeSettle', [keys.record, keys.waiters, stream], [group, id, owner]);
  }

  private run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    const command = (this.client as unknown as Record<ScriptName, ScriptCommand>)[name];
    return command.call(this.client, keys.length, ...keys, ...args);
  }
}

function readEntryOf([id, deliveries, kind, ...rest]: [
  string,
  number,
  string,
  ...(string | number)[],
]): ReadEntry {
  const entry = { id: String(id), deliveries: Number(deliveries) };
  if (kind === 'ok') return { ...entry, payload: String(rest[0]) };
  if (kind === 'large') {
    const [bytes, head, tail] = rest;
    return {
      ...entry,
      oversized: { bytes: Number(bytes), head: String(head), tail: String(tail) },
    };
  }
  return entry;
}

function optional(key: string | undefined): string[] {
  return key === undefined ? [] : [key];
}
