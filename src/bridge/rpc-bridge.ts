import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-client';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { LogThrottle } from '../common/log-throttle';
import { AppConfig } from '../config/app-config';
import { RpcError, RpcErrorCode } from '../protocol/rpc.protocol';
import { RedisConnections } from '../redis/redis-connections';
import type { KeyedSequencer } from '../rpc/keyed-sequencer';
import type { AnswerLease, AnswerPool } from '../common/answer-pool';
import type { RpcCaller, RpcDispatcher } from '../rpc/rpc-dispatcher';
import {
  BridgeRequest,
  InvalidEntry,
  ParsedEntry,
  confineReplyTo,
  hasExpired,
  parseEntry,
  parseOversized,
  payloadHead,
} from './bridge-request';
import { asRpcError, errorReply, isFinal, successReply } from './bridge-reply';
import { BridgeScripts, ReadBounds, ReadEntry } from './bridge-scripts';
import { dedupKeys } from './dedup';

/** Who the bridge calls as: a backend, which may call every method. */
const CALLER = { kind: 'backend', via: 'redis' } as const;
/**
 * Longest wait before the next read once reads find nothing new. Reads are by bytes in a script,
 * which cannot block: an idle instance polls (one cheap script call per interval). After a read
 * that found entries the waits start at 1 ms and double up to this, so a busy stream is read as
 * its entries come.
 */
const IDLE_POLL_MS = 25;
/** How often (at most) the handled entries are trimmed from the request stream. */
const TRIM_EVERY_MS = 5_000;
/** Trim calls of one round at most, each of at most 10,000 entries (a few ms of Redis each). */
const TRIM_CALLS = 10;
/** Backoff of the read loop after a failure (Redis away), doubling up to the maximum. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;
/** This consumer's pending entries looked at per call when taking back those a failed read took. */
const ORPHAN_PAGE = 100;
/**
 * How long after Redis answers again the read loop keeps looking for such entries (before each
 * read): a call sent on a connection dropped during the stall may still be run once Redis resumes.
 */
const ORPHAN_WATCH_MS = 2_000;
/** An entry whose handling failed here (Redis away) is taken back after this, not after the visibility timeout. */
const DROPPED_RETRY_MS = 1_000;

interface InFlight {
  task: Promise<void>;
  /** Payload bytes it holds (counted against RPC_MAX_BYTES_IN_FLIGHT). */
  bytes: number;
  /** When its idle time in the group was last reset (the read, the claim, a keep-alive). */
  touchedAt: number;
  /** While it runs: its correlation id's record and the owner it names (the lease to renew). */
  owned?: { readonly record: string; readonly owner: string };
  /**
   * A copy of a correlation id another entry handles here already: it waits for that entry's
   * take, outside any room chain, and holds no RPC_CONCURRENCY slot meanwhile.
   */
  parked?: boolean;
  /** Tells the copies of this entry's correlation id waiting here that its take returned. */
  taken?: () => void;
  /** Lets the next request of its room start: its publication has its place in the room. */
  ordered?: () => void;
}

/** The bridge's state as the health answer shows it. */
export interface BridgeStatus {
  stream: string;
  group: string;
  consumer: string;
  /** Consumers the group has (instances that ever read, the dead ones until removed). */
  consumers: number;
  /** Entries delivered to a consumer and not acknowledged yet, in the whole group. */
  pending: number;
  /** Entries not yet delivered to any consumer (Redis 7), null when Redis cannot tell. */
  lag: number | null;
  dead_letters: number;
  /** Requests this instance is handling now. */
  in_flight: number;
}

/**
 * The backend bridge: reads seed 003's RPC requests from RPC_REQUEST_STREAM as a consumer of
 * RPC_CONSUMER_GROUP (each entry goes to one instance), runs them through the RpcDispatcher, and
 * pushes the reply to the request's `reply_to` list.
 *
 * Guarantees (each step one Lua script on the bridge's connection, lua/, of one slot: the request
 * stream's, which holds its dead letters and the correlation records too, or one reply list's):
 * - replies go only to keys whose names start with RPC_REPLY_PREFIX: a request whose `reply_to`
 *   names any other key is dead-lettered unanswered, and a push writes a list or an absent key,
 *   nothing else;
 * - exactly once in effect: a `correlation_id`'s record names its owner (consumer, entry,
 *   delivery) under a lease; it is taken only by the consumer the group's pending list gives the
 *   entry to, and only when free, done, or its owner's lease ran out. A finish records the reply
 *   in the record, only while it still names this owner, then pushes it (the reply list is in
 *   another slot), then acknowledges the entry: a crash between the steps leaves the entry
 *   pending, and its redelivery pushes the recorded reply again instead of running the method (a
 *   reply list may then hold the reply twice); a run that a claimer repeats after a crash or a
 *   stall before the reply was recorded publishes nothing new (its publications are keyed by the
 *   correlation id) and answers the same. A request without a reply list, and a query (a method
 *   of permission `query`, which only reads), keep no record: its publications alone, or reading
 *   only, make a re-run harmless. A reply over RPC_DEDUP_MAX_REPLY_BYTES is pushed but not kept:
 *   the record is dropped once every list is answered, and a duplicate runs again (publishing
 *   nothing new);
 * - a failure for want of Redis (a stall, a lost connection) is answered `unavailable`,
 *   retryable, and never stored: the retry runs (and publishes nothing twice);
 * - a live instance renews its leases and keeps its entries from being claimed (keepAlive), and
 *   never takes back an entry another instance claimed; an entry whose instance died is claimed
 *   (XAUTOCLAIM) by another after RPC_VISIBILITY_TIMEOUT_MS; entries a failed read took without
 *   the bridge learning of them (Redis ran it after the command timeout), and those whose
 *   handling failed here, are taken back at once once Redis answers (retakeOrphans);
 * - a duplicate `correlation_id` is answered with the stored reply at once, or, while its twin
 *   runs, registered as a waiter and acknowledged: the twin's finish pushes the reply to it. It
 *   holds no slot and does not poll. A retryable failure is pushed but never stored: a retry runs;
 * - requests whose method names a room run one after another per room, in stream order (with the
 *   HTTP API's calls into that room), other rooms in parallel; at most RPC_CONCURRENCY entries are
 *   held at once, running or waiting in their room's chain;
 * - it reads by bytes (lua/read.lua, for new and for claimed entries alike): a payload over
 *   MAX_PAYLOAD_BYTES never leaves Redis whole (its size and first and last KiB do), and it holds
 *   at most RPC_MAX_BYTES_IN_FLIGHT bytes of payload at once (plus one entry): reads, claims and
 *   take-backs are one script call at a time;
 * - an entry delivered more than RPC_MAX_DELIVERIES times, or that is not a request, goes to
 *   RPC_DEAD_LETTER_STREAM (MAXLEN ~ RPC_DEAD_LETTER_MAXLEN) with the reason and the first KiB of
 *   its payload, and is acknowledged (answered when it can be);
 * - entries every group of the stream is done with are trimmed (lua/trim.lua);
 * - a stop reads no more and lets the entries held finish.
 */
export class RpcBridge implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RpcBridge.name);
  /** Redis failures come in storms while it is away: one line per kind and interval. */
  private readonly problems = new LogThrottle(this.logger);
  /** Everything the bridge sends (reads, replies, claims, acknowledgements). */
  private readonly client: RedisClient;
  private readonly stream: string;
  private readonly group: string;
  readonly consumer: string;
  private readonly keyPrefix: string;
  private readonly scripts: BridgeScripts;
  private readonly inFlight = new Map<string, InFlight>();
  /** Entries of `inFlight` that are parked copies (at most RPC_CONCURRENCY). */
  private parked = 0;
  /** Payload bytes of the entries in `inFlight`. */
  private heldBytes = 0;
  /** Per correlation id handled here: resolves once its entry's take returned, or it ended. */
  private readonly twins = new Map<string, Promise<void>>();
  private readonly slotWaiters: (() => void)[] = [];
  private readonly stopping = new AbortController();
  private running = false;
  private groupReady = false;
  private loop: Promise<void> = Promise.resolve();
  private tick: NodeJS.Timeout | undefined;
  private ticking = false;
  /** Where the next XAUTOCLAIM scan of the pending entries starts. */
  private claimCursor = '0-0';
  /** How often the read loop claims abandoned entries (and the maintenance tick runs). */
  private readonly claimEveryMs: number;
  private nextClaim = 0;
  /**
   * When the first read or claim that failed since entries were last taken back was sent: Redis
   * may have run it (a stall outlasting the command timeout), leaving entries pending on this
   * consumer that the bridge never received.
   */
  private failedSince: number | undefined;
  /** When the first retake after that failure succeeded (ORPHAN_WATCH_MS from then). */
  private retakenSince: number | undefined;
  /**
   * Entries whose handling failed here (a Redis error) and that stay pending on this consumer:
   * when. Taken back as one more delivery (RPC_MAX_DELIVERIES bounds their retries).
   */
  private readonly dropped = new Map<string, number>();
  private lastSweep = Date.now();
  private lastTrim = 0;

  constructor(
    redis: RedisConnections,
    private readonly config: AppConfig,
    private readonly dispatcher: RpcDispatcher,
    private readonly sequencer: KeyedSequencer,
    private readonly answers: AnswerPool,
  ) {
    this.stream = config.RPC_REQUEST_STREAM;
    this.group = config.RPC_CONSUMER_GROUP;
    this.consumer = redis.instanceId;
    this.keyPrefix = config.REDIS_KEY_PREFIX;
    this.client = redis.create('bridge', { autoPipelining: true });
    this.scripts = new BridgeScripts(this.client, {
      stream: this.stream,
      group: this.group,
      deadLetters: config.RPC_DEAD_LETTER_STREAM,
      deadLetterMaxLen: config.RPC_DEAD_LETTER_MAXLEN,
      maxDeliveries: config.RPC_MAX_DELIVERIES,
      consumer: this.consumer,
      leaseMs: config.RPC_VISIBILITY_TIMEOUT_MS,
      windowMs: config.RPC_DEDUP_WINDOW_MS,
      replyTtlS: config.RPC_RESPONSE_TTL_S,
    });
    this.claimEveryMs = Math.min(
      5_000,
      Math.max(25, Math.floor(config.RPC_VISIBILITY_TIMEOUT_MS / 4)),
    );
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.readLoop();
    this.tick = setInterval(() => void this.maintain(), this.claimEveryMs);
    this.tick.unref();
  }

  /** Stops reading, then lets the requests in flight finish (within half the shutdown budget). */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.tick);
    this.stopping.abort();
    for (const wake of this.slotWaiters.splice(0)) wake();
    // A read in flight ends within the command timeout; what it brought is handled below.
    await this.loop;
    const tasks = [...this.inFlight.values()].map((entry) => entry.task);
    if (tasks.length === 0) return;
    this.logger.log(`Finishing ${tasks.length} request(s) in flight`);
    const budget = delay(this.config.SHUTDOWN_TIMEOUT_MS / 2, 'timeout' as const, { ref: false });
    if ((await Promise.race([Promise.all(tasks), budget])) === 'timeout') {
      this.logger.warn(
        `${this.inFlight.size} request(s) still running at shutdown; another instance claims them`,
      );
    }
  }

  /** The figures of the health answer: two reads, in one round trip. */
  async status(): Promise<BridgeStatus> {
    const [groups, deadLetters] = (await this.client
      .pipeline()
      .xinfo('GROUPS', this.stream)
      .xlen(this.config.RPC_DEAD_LETTER_STREAM)
      .exec()) ?? [
      [new Error('pipeline aborted'), null],
      [null, 0],
    ];
    // No stream yet (nothing sent, or Redis lost it): no group either, until the next read.
    if (groups[0] && !/no such key/i.test(groups[0].message)) throw groups[0];
    if (deadLetters[0]) throw deadLetters[0];
    const ours = groups[0] ? undefined : groupInfo(groups[1], this.group);
    return {
      stream: this.stream,
      group: this.group,
      consumer: this.consumer,
      consumers: ours?.consumers ?? 0,
      pending: ours?.pending ?? 0,
      lag: ours?.lag ?? null,
      dead_letters: Number(deadLetters[1]),
      in_flight: this.inFlight.size,
    };
  }

  // ---- reading ---------------------------------------------------------------------------

  /**
   * Brings every entry the bridge handles, one call at a time, so each call's bounds count what
   * the calls before it brought: the entries a failed call may have taken (first), the abandoned
   * ones (every claimEveryMs), then new ones.
   */
  private async readLoop(): Promise<void> {
    let failures = 0;
    let emptyReads = 0;
    while (this.running) {
      const sentAt = Date.now();
      try {
        // Connecting, or Redis away: RedisConnections logs the outage; wait without failing.
        if (!(await this.connected())) continue;
        if (!this.groupReady) await this.createGroup();
        await this.freeSlot();
        if (!this.running) break;
        if (this.failedSince !== undefined) await this.retakeOrphans(this.failedSince);
        if (Date.now() >= this.nextClaim) await this.claimAbandoned();
        await this.freeSlot();
        if (!this.running) break;
        const entries = await this.scripts.readNew(this.bounds());
        failures = 0;
        // Entries read are ours now, also after a stop: handled rather than left to be claimed.
        for (const entry of entries) this.start(entry);
        emptyReads = entries.length === 0 ? emptyReads + 1 : 0;
        if (emptyReads > 0) await this.idle(Math.min(IDLE_POLL_MS, 2 ** (emptyReads - 1)));
      } catch (error) {
        this.failedSince = Math.min(this.failedSince ?? sentAt, sentAt);
        this.retakenSince = undefined;
        // The group (or the whole stream) is gone: Redis lost its data. Created again, from 0.
        if (/NOGROUP/.test(messageOf(error))) this.groupReady = false;
        this.problem(
          'Reading the request stream failed',
          'Reading the request stream failed',
          error,
        );
        failures += 1;
        await this.idle(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 6)));
      }
    }
  }

  /** Waits `ms`, or less at a stop. */
  private idle(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }

  /**
   * What the next read may bring: as many entries as there are free slots, as many bytes as
   * RPC_MAX_BYTES_IN_FLIGHT leaves (at least one entry is read when nothing is held).
   */
  private bounds(): ReadBounds {
    return {
      count: Math.max(1, this.config.RPC_CONCURRENCY - this.busy),
      maxPayloadBytes: this.config.MAX_PAYLOAD_BYTES,
      budgetBytes: Math.max(1, this.config.RPC_MAX_BYTES_IN_FLIGHT - this.heldBytes),
    };
  }

  /** Waits until the connection is ready; false if it is not yet (or at a stop). */
  private async connected(): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    await once(this.client, 'ready', { signal: this.stopping.signal }).catch(() => undefined);
    return false;
  }

  /**
   * The group reads from the stream's start (`0`), as seed 003 creates it: requests written while
   * it did not exist (a Redis restarted without persistence) are still handled; those expired by
   * then are answered `timeout` without running.
   */
  private async createGroup(): Promise<void> {
    try {
      await this.client.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
      this.logger.log(`Created consumer group ${this.group} on ${this.stream}`);
    } catch (error) {
      if (!/BUSYGROUP/.test(messageOf(error))) throw error;
    }
    this.groupReady = true;
  }

  /** Entries holding a slot: running, or waiting for their room (parked copies hold none). */
  private get busy(): number {
    return this.inFlight.size - this.parked;
  }

  /**
   * Resolves once fewer than RPC_CONCURRENCY requests hold a slot and less than
   * RPC_MAX_BYTES_IN_FLIGHT bytes are held (or at a stop).
   */
  private async freeSlot(): Promise<void> {
    while (this.running && (this.busy >= this.config.RPC_CONCURRENCY || this.bytesFull)) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
  }

  private get bytesFull(): boolean {
    return this.heldBytes >= this.config.RPC_MAX_BYTES_IN_FLIGHT;
  }

  /** `retaken`: taken back after a Redis failure (retakeOrphans). */
  private start(entry: ReadEntry, retaken = false): void {
    const { id, deliveries, payload, oversized } = entry;
    if (this.inFlight.has(id)) return;
    const limit = this.config.MAX_PAYLOAD_BYTES;
    const parsed = confineReplyTo(
      oversized ? parseOversized(oversized, limit) : parseEntry(payload, limit),
      this.config.RPC_REPLY_PREFIX,
      payload ?? '',
    );
    const bytes = payload === undefined ? 0 : Buffer.byteLength(payload);
    const flight: InFlight = { touchedAt: Date.now(), task: Promise.resolve(), bytes };
    this.heldBytes += bytes;
    const correlationId = parsed.ok ? parsed.request.correlationId : undefined;
    const twin = correlationId === undefined ? undefined : this.twins.get(correlationId);
    let queued: Promise<void>;
    if (twin && this.parked < this.config.RPC_CONCURRENCY) {
      // A copy of a request handled here: once that one has taken its record, this one's take
      // registers it as a waiter (or answers it from the record) without waiting for the room.
      flight.parked = true;
      this.parked += 1;
      queued = twin.then(() => this.handle(id, payload, parsed, deliveries, flight, retaken));
    } else {
      if (correlationId !== undefined && !twin) {
        this.twins.set(correlationId, new Promise((resolve) => (flight.taken = resolve)));
      }
      // Queued in its room's chain now, synchronously: entries of one room run in stream order.
      const room = parsed.ok
        ? this.dispatcher.roomOf(parsed.request.method, parsed.request.params)
        : undefined;
      queued = this.sequencer.run(room, (release) => {
        flight.ordered = release;
        return this.handle(id, payload, parsed, deliveries, flight, retaken);
      });
    }
    flight.task = queued
      .catch((error: unknown) => {
        // Not acknowledged: the entry stays pending here, and is taken back (retakeOrphans).
        this.dropped.set(id, Date.now());
        this.failedSince ??= Date.now();
        this.problem(
          'A request could not be completed',
          'A request could not be completed; it will be retried',
          error,
        );
      })
      .finally(() => {
        this.inFlight.delete(id);
        this.heldBytes -= flight.bytes;
        if (flight.taken) {
          flight.taken();
          if (correlationId !== undefined) this.twins.delete(correlationId);
        }
        if (flight.parked) this.parked -= 1;
        this.slotWaiters.shift()?.();
      });
    this.inFlight.set(id, flight);
  }

  // ---- handling --------------------------------------------------------------------------

  private async handle(
    id: string,
    payload: string | undefined,
    parsed: ParsedEntry,
    deliveries: number,
    flight: InFlight,
    retaken: boolean,
  ): Promise<void> {
    if (!parsed.ok) return this.deadLetter(id, parsed, deliveries);
    const { request } = parsed;
    if (deliveries > this.config.RPC_MAX_DELIVERIES) {
      return this.giveUp(id, payload ?? '', request, deliveries, flight);
    }
    if (hasExpired(id, request, Date.now())) {
      if (retaken) return this.answerDelayed(id, request, flight);
      const error = new RpcError(RpcErrorCode.Timeout, 'the request expired before it was run');
      await this.scripts.answer(id, replyListOf(request), errorReply(request.correlationId, error));
      return;
    }
    await this.runOnce(id, request, flight);
  }

  /**
   * A request a Redis failure kept from this instance (taken back) until it expired: answered
   * `unavailable`, retryable, not run again. Through its record, as a run's failure is: an
   * earlier attempt here may have taken it (its waiters are answered too, and the record freed
   * for a retry), and a reply stored meanwhile is answered instead.
   */
  private async answerDelayed(id: string, request: BridgeRequest, flight: InFlight): Promise<void> {
    const error = new RpcError(
      RpcErrorCode.Unavailable,
      'Redis was unavailable until the request expired; it was not run',
      { retryable: true },
    );
    const reply = errorReply(request.correlationId, error);
    const replyTo = replyListOf(request);
    if (replyTo === undefined) {
      await this.scripts.answer(id, undefined, '');
      return;
    }
    const keys = dedupKeys(this.keyPrefix, this.stream, request.correlationId);
    const taken = await this.scripts.take(keys, id, replyTo);
    flight.taken?.();
    if (taken.kind !== 'run') return;
    await this.scripts.finish(keys, id, taken.owner, reply, 'release', replyTo);
  }

  /**
   * Runs the request as the owner of its correlation id's record, unless the record says
   * otherwise (see TakeOutcome): a stored reply is pushed at once, a duplicate of a running twin
   * is registered as its waiter and acknowledged (it holds no slot while it waits), and an entry
   * another consumer holds is left to it. A finish that finds the record taken over (this
   * instance stalled past its lease) wrote nothing: the entry asks the record once more.
   */
  private async runOnce(id: string, request: BridgeRequest, flight: InFlight): Promise<void> {
    const replyTo = replyListOf(request);
    if (!this.keepsRecord(request)) return this.runUnrecorded(id, request, replyTo, flight);
    const keys = dedupKeys(this.keyPrefix, this.stream, request.correlationId);
    for (let attempt = 0; attempt < 2; attempt++) {
      const taken = await this.scripts.take(keys, id, replyTo);
      flight.taken?.();
      if (taken.kind !== 'run') return;
      flight.owned = { record: keys.record, owner: taken.owner };
      // The answer's bytes stay held until its reply is pushed.
      const lease = this.answers.lease();
      let done: boolean;
      try {
        const { reply, outcome } = await this.execute(request, flight.ordered, lease);
        const mode = outcome === 'store' && !this.fitsRecord(reply) ? 'release' : outcome;
        done = await this.scripts.finish(keys, id, taken.owner, reply, mode, replyTo);
      } finally {
        lease.release();
      }
      flight.owned = undefined;
      if (done) return;
      this.problem(
        'A request ran past its lease',
        'A request ran past its lease; the record’s new owner answers it',
      );
    }
  }

  /**
   * A request nobody waits a reply for, and a query, keep no record: running either twice (a
   * duplicate, a redelivery, a claim after a stall) changes nothing, since a query only reads and
   * publications are keyed by the correlation id. A query's reply is pushed and the entry
   * acknowledged, only while the group gives it to this consumer. A request without a reply list
   * that failed for a retryable reason (Redis unavailable) stays pending and is claimed again
   * after RPC_VISIBILITY_TIMEOUT_MS.
   */
  private async runUnrecorded(
    id: string,
    request: BridgeRequest,
    replyTo: string | undefined,
    flight: InFlight,
  ): Promise<void> {
    flight.taken?.();
    // The answer's bytes stay held until its reply is pushed.
    const lease = this.answers.lease();
    try {
      const { reply, outcome } = await this.execute(request, flight.ordered, lease);
      if (replyTo === undefined && outcome === 'release') {
        this.problem(
          'A request without a reply failed for want of Redis',
          'A request without a reply failed for want of Redis; it is run again after the visibility timeout',
        );
        return;
      }
      await this.scripts.answer(id, replyTo, replyTo === undefined ? '' : reply);
    } finally {
      lease.release();
    }
  }

  /** Whether a request has a dedup record: it waits for a reply and its method is not a query. */
  private keepsRecord(request: BridgeRequest): boolean {
    return replyListOf(request) !== undefined && !this.dispatcher.isQuery(request.method);
  }

  /** Whether a reply is kept in its record (RPC_DEDUP_MAX_REPLY_BYTES); a larger one is not. */
  private fitsRecord(reply: string): boolean {
    return Buffer.byteLength(reply) <= this.config.RPC_DEDUP_MAX_REPLY_BYTES;
  }

  /**
   * Runs the call; a failure a retry could change (Redis unavailable, whatever threw it) is not
   * the request's answer for good: `release`, never stored.
   */
  private async execute(
    request: BridgeRequest,
    onOrdered: (() => void) | undefined,
    answers: AnswerLease,
  ): Promise<{ reply: string; outcome: 'store' | 'release' }> {
    // The correlation id keys the call's publications: a re-run publishes nothing new.
    const caller: RpcCaller = {
      ...CALLER,
      idempotencyKey: request.correlationId,
      onOrdered,
      answers,
    };
    try {
      const result = await this.dispatcher.call(request.method, request.params, caller);
      return { reply: successReply(request.correlationId, result), outcome: 'store' };
    } catch (error) {
      const rpcError = asRpcError(error, this.logger);
      const reply = errorReply(request.correlationId, rpcError);
      return { reply, outcome: isFinal(rpcError) ? 'store' : 'release' };
    }
  }

  /**
   * An entry delivered more than RPC_MAX_DELIVERIES times is not run again: it is dead-lettered
   * and its error pushed. One that keeps a record (see keepsRecord) does so as the record's owner,
   * storing the error and pushing it to its duplicates too, so they do not wait for an attempt
   * that never ends (a record already done answers it instead); any other keeps no record: it is
   * answered, dead-lettered and acknowledged in one script.
   */
  private async giveUp(
    id: string,
    payload: string,
    request: BridgeRequest,
    deliveries: number,
    flight: InFlight,
  ): Promise<void> {
    const error = new RpcError(
      RpcErrorCode.InternalError,
      `the request failed ${deliveries - 1} times and was moved to the dead letters`,
    );
    const fields = this.deadLetterFields(id, 'max_deliveries', error.message, payload, deliveries);
    const moved = (): void =>
      this.problem(
        'A request moved to the dead letters (max_deliveries)',
        `Request ${id} moved to the dead letters: max_deliveries`,
      );
    const replyTo = replyListOf(request);
    if (!this.keepsRecord(request)) {
      flight.taken?.();
      const reply = replyTo === undefined ? '' : errorReply(request.correlationId, error);
      const maxLen = this.config.RPC_DEAD_LETTER_MAXLEN;
      if (await this.scripts.answer(id, replyTo, reply, { maxLen, fields })) moved();
      return;
    }
    const keys = dedupKeys(this.keyPrefix, this.stream, request.correlationId);
    const taken = await this.scripts.take(keys, id, replyTo);
    if (taken.kind !== 'run') return;
    flight.owned = { record: keys.record, owner: taken.owner };
    moved();
    await this.client.xadd(
      this.config.RPC_DEAD_LETTER_STREAM,
      'MAXLEN',
      '~',
      this.config.RPC_DEAD_LETTER_MAXLEN,
      '*',
      ...fields,
    );
    const reply = errorReply(request.correlationId, error);
    await this.scripts.finish(keys, id, taken.owner, reply, 'store', replyTo);
  }

  /**
   * Moves an entry that is not a request to the dead letters with the reason, the original id and
   * the payload's start, answers it when it names a reply list, and acknowledges it, in one
   * script (once).
   */
  private async deadLetter(id: string, entry: InvalidEntry, deliveries: number): Promise<void> {
    // The fields at fault, not their values (a field's name is cut: it can be the sender's).
    const fields = entry.errors
      .slice(0, 5)
      .map((e) => e.field.slice(0, 64))
      .join(', ');
    this.problem(
      `A request moved to the dead letters (${entry.reason})`,
      `Request ${id} moved to the dead letters: ${entry.reason}${fields && ` (${fields})`}`,
    );
    const answer = new RpcError(RpcErrorCode.InvalidParams, 'the request is invalid', {
      details: { validation_errors: entry.errors },
    });
    const why = entry.errors.map((e) => `${e.field}: ${e.error}`).join('; ');
    await this.scripts.answer(
      id,
      entry.replyTo,
      entry.replyTo === undefined ? '' : errorReply(entry.correlationId, answer),
      {
        maxLen: this.config.RPC_DEAD_LETTER_MAXLEN,
        fields: this.deadLetterFields(id, entry.reason, why, entry.payload, deliveries),
      },
    );
  }

  private deadLetterFields(
    id: string,
    reason: string,
    error: string,
    payload: string,
    deliveries: number,
  ): string[] {
    return [
      'reason',
      reason,
      'error',
      error,
      'original_id',
      id,
      'payload',
      payloadHead(payload),
      'deliveries',
      String(deliveries),
      'consumer',
      this.consumer,
    ];
  }

  // ---- claiming --------------------------------------------------------------------------

  /** The periodic work: keep this instance's slow requests ours, forget dead consumers, trim. */
  private async maintain(): Promise<void> {
    if (this.ticking || !this.running || !this.groupReady) return;
    this.ticking = true;
    try {
      await this.keepAlive();
      await this.forgetDeadConsumers();
      await this.trimHandled();
    } catch (error) {
      if (/NOGROUP/.test(messageOf(error))) this.groupReady = false;
      this.problem('The bridge’s maintenance failed', 'The bridge’s maintenance failed', error);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Keeps the entries handled here for a while (running, or waiting in their room's chain) from
   * being claimed: their idle time is reset and their owners' leases renewed (lua/keep-alive.lua),
   * only while the group still gives them to this consumer; one another instance claimed after a
   * stall is never taken back (its record decides who answers).
   */
  private async keepAlive(): Promise<void> {
    const now = Date.now();
    const due = Math.floor(this.config.RPC_VISIBILITY_TIMEOUT_MS / 4);
    const kept = [...this.inFlight].filter(([, f]) => now - f.touchedAt >= due);
    if (kept.length === 0) return;
    await this.scripts.keepAlive(kept.map(([id, f]) => ({ id, ...f.owned })));
    for (const [, flight] of kept) flight.touchedAt = now;
  }

  /**
   * Claims entries pending longer than RPC_VISIBILITY_TIMEOUT_MS (their instance died, or their
   * completion failed) by bytes, as the reads do (lua/read.lua: XAUTOCLAIM one at a time, a payload
   * over the limit never leaves Redis whole and is answered as on its first delivery, until it
   * was delivered more than RPC_MAX_DELIVERIES times), as many as there are free slots and bytes, and
   * handles them with their delivery count (the claim counted as one more delivery). Run by the
   * read loop, between its reads: claims and reads share RPC_CONCURRENCY and the byte budget.
   */
  private async claimAbandoned(): Promise<void> {
    this.nextClaim = Date.now() + this.claimEveryMs;
    for (;;) {
      if (!this.running || this.busy >= this.config.RPC_CONCURRENCY || this.bytesFull) return;
      const { next, entries } = await this.scripts.claim(
        this.bounds(),
        this.config.RPC_VISIBILITY_TIMEOUT_MS,
        this.claimCursor,
      );
      this.claimCursor = next;
      for (const entry of entries) this.start(entry);
      // A full scan of the pending entries ends at 0-0; the next tick starts another one.
      if (next === '0-0' || entries.length === 0) return;
    }
  }

  /**
   * Takes back the entries a read or claim sent at `since` or later may have taken without the
   * bridge learning of them (Redis ran it after its command timeout): pending on this consumer,
   * delivered since then, and not handled here. Taken by bytes as a read is (lua/read.lua 'mine'),
   * only while still pending here, with their delivery count unchanged, and handled at once,
   * before any newer entry is read; and those whose handling failed here (`dropped`), as one more
   * delivery, DROPPED_RETRY_MS after. Looked for before each read until ORPHAN_WATCH_MS after the
   * first look that succeeded, and while any `dropped` entry is left.
   */
  private async retakeOrphans(since: number): Promise<void> {
    let after = '-';
    let taken = 0;
    const seen = new Set<string>();
    for (;;) {
      const rows = await this.scripts.ownPending(after, ORPHAN_PAGE);
      // Idle at most since `since` (measured once the rows came): delivered after it was sent.
      const now = Date.now();
      const maxIdle = now - since;
      const orphans: string[] = [];
      for (const { id, idleMs } of rows) {
        seen.add(id);
        if (this.inFlight.has(id)) continue;
        const droppedAt = this.dropped.get(id);
        if (droppedAt !== undefined && now - droppedAt >= DROPPED_RETRY_MS) {
          this.dropped.delete(id);
          orphans.push(`+${id}`);
        } else if (droppedAt === undefined && idleMs <= maxIdle) {
          orphans.push(id);
        }
      }
      for (let next = 0; next < orphans.length;) {
        await this.freeSlot();
        if (!this.running) return;
        const { looked, entries } = await this.scripts.retake(this.bounds(), orphans.slice(next));
        next += Math.max(1, looked);
        taken += entries.length;
        for (const entry of entries) this.start(entry, true);
      }
      if (rows.length < ORPHAN_PAGE) break;
      after = rows[rows.length - 1].id;
    }
    // Those no longer pending here were acknowledged or claimed: nothing to take back.
    for (const id of this.dropped.keys()) if (!seen.has(id)) this.dropped.delete(id);
    const now = Date.now();
    this.retakenSince ??= now;
    if (now - this.retakenSince >= ORPHAN_WATCH_MS && this.dropped.size === 0) {
      this.failedSince = undefined;
      this.retakenSince = undefined;
    }
    if (taken > 0)
      this.logger.warn(`Took back ${taken} request(s) a Redis failure left pending here`);
  }

  /**
   * Trims the request stream of the entries every group is done with (lua/trim.lua), at most
   * every TRIM_EVERY_MS: up to TRIM_CALLS calls of 10,000 entries, 20,000 entries a second.
   */
  private async trimHandled(): Promise<void> {
    const now = Date.now();
    if (now - this.lastTrim < TRIM_EVERY_MS) return;
    this.lastTrim = now;
    for (let call = 0; call < TRIM_CALLS && this.running; call++) {
      if ((await this.scripts.trim()) === 0) return;
    }
  }

  /**
   * Removes from the group the consumers of instances gone for good: nothing pending (their
   * entries were claimed) and silent for ten visibility timeouts, when a live instance touches the
   * group every few seconds. Keeps XINFO (and the health answer's `consumers`) about live ones.
   */
  private async forgetDeadConsumers(): Promise<void> {
    const now = Date.now();
    const silence = 10 * this.config.RPC_VISIBILITY_TIMEOUT_MS;
    if (now - this.lastSweep < Math.min(silence, 60_000)) return;
    this.lastSweep = now;
    const consumers = (await this.client.xinfo('CONSUMERS', this.stream, this.group)) as unknown[];
    for (const consumer of consumers) {
      const fields = fieldMap(consumer);
      const name = String(fields.get('name'));
      const dead = Number(fields.get('pending')) === 0 && Number(fields.get('idle')) > silence;
      if (dead && name !== this.consumer) {
        await this.client.xgroup('DELCONSUMER', this.stream, this.group, name);
      }
    }
  }

  /** `kind`: the problem in words, the same for its repeats (LogThrottle's summary names it). */
  private problem(kind: string, line: string, error?: unknown): void {
    const why = error === undefined ? '' : `: ${messageOf(error)}`;
    this.problems.warn(kind, `${line}${why}`);
  }
}

/** The list the request's reply goes to; undefined when nobody waits for one. */
function replyListOf(request: BridgeRequest): string | undefined {
  return request.timeoutS > 0 ? request.replyTo : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}

/** A flat `[name, value, …]` reply (XINFO) as a map. */
function fieldMap(reply: unknown): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  return fields;
}

interface GroupInfo {
  consumers: number;
  pending: number;
  lag: number | null;
}

/** Our group's line of XINFO GROUPS (flat `[name, value, …]` arrays). */
function groupInfo(groups: unknown, name: string): GroupInfo | undefined {
  if (!Array.isArray(groups)) return undefined;
  for (const group of groups) {
    const fields = fieldMap(group);
    if (fields.get('name') !== name) continue;
    const lag = fields.get('lag');
    return {
      consumers: Number(fields.get('consumers') ?? 0),
      pending: Number(fields.get('pending') ?? 0),
      lag: typeof lag === 'number' ? lag : null,
    };
  }
  return undefined;
}
