import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type Redis from 'ioredis';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { LogThrottle } from '../common/log-throttle';
import { AppConfig } from '../config/app-config';
import { RpcError, RpcErrorCode } from '../protocol/rpc.protocol';
import { RedisConnections } from '../redis/redis-connections';
import type { RpcCaller, RpcDispatcher } from '../rpc/rpc-dispatcher';
import { BridgeRequest, InvalidEntry, fieldOf, hasExpired, parseEntry } from './bridge-request';
import { asRpcError, errorReply, successReply } from './bridge-reply';
import { DedupState, dedupKey, readDedup } from './dedup';

/** Who the bridge calls as: a backend, which may call every method. */
const CALLER: RpcCaller = { kind: 'backend', via: 'redis' };
/** Longest wait of one XREADGROUP; a stop interrupts it with CLIENT UNBLOCK. */
const BLOCK_MS = 5_000;
/** Dead letters kept at most (approximately): the stream must not fill Redis. */
const DEAD_LETTER_MAX_LEN = 100_000;
/** Backoff of the read loop after a failure (Redis away), doubling up to the maximum. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

/** One entry as XREADGROUP and XAUTOCLAIM give it; `fields` null: deleted from the stream. */
type RawEntry = [id: string, fields: string[] | null];

interface InFlight {
  readonly task: Promise<void>;
  /** When its idle time in the group was last reset (the read, the claim, a keep-alive). */
  touchedAt: number;
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
 * Guarantees:
 * - an entry is acknowledged only in the same MULTI that pushes its reply and stores it for
 *   deduplication, so a reply is pushed at most once per entry, and an entry whose instance died
 *   before that is claimed (XAUTOCLAIM) by another instance after RPC_VISIBILITY_TIMEOUT_MS;
 * - a live instance keeps its own slow requests from being claimed (XCLAIM … JUSTID);
 * - a `correlation_id` is executed once within RPC_DEDUP_WINDOW_MS, cluster-wide: a duplicate is
 *   answered with the stored reply, or waits for the attempt in flight. The one exception: an
 *   instance that dies after running a method and before its MULTI leaves the method run and
 *   unanswered, and the instance that claims the entry runs it again (at least once);
 * - an entry delivered more than RPC_MAX_DELIVERIES times, or that is not a request, goes to
 *   RPC_DEAD_LETTER_STREAM with the reason, and is acknowledged (answered when it can be);
 * - at most RPC_CONCURRENCY requests run at once; a stop reads no more and lets them finish.
 */
export class RpcBridge implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RpcBridge.name);
  /** Redis failures come in storms while it is away: one line per kind and interval. */
  private readonly problems = new LogThrottle(this.logger);
  /** The blocking XREADGROUP's own connection. */
  private readonly reader: Redis;
  /** Everything else the bridge sends (replies, claims, acknowledgements). */
  private readonly client: Redis;
  private readonly stream: string;
  private readonly group: string;
  readonly consumer: string;
  private readonly keyPrefix: string;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly slotWaiters: (() => void)[] = [];
  private readonly stopping = new AbortController();
  private readerId: number | undefined;
  private running = false;
  private groupReady = false;
  private loop: Promise<void> = Promise.resolve();
  private tick: NodeJS.Timeout | undefined;
  private ticking = false;
  /** Where the next XAUTOCLAIM scan of the pending entries starts. */
  private claimCursor = '0-0';
  private lastSweep = Date.now();

  constructor(
    redis: RedisConnections,
    private readonly config: AppConfig,
    private readonly dispatcher: RpcDispatcher,
  ) {
    this.stream = config.RPC_REQUEST_STREAM;
    this.group = config.RPC_CONSUMER_GROUP;
    this.consumer = redis.instanceId;
    this.keyPrefix = config.REDIS_KEY_PREFIX;
    this.reader = redis.create('bridge-reader', { blocking: true });
    this.client = redis.create('bridge', { autoPipelining: true });
    // The reader's id in Redis, for CLIENT UNBLOCK at a stop; it changes with each connection.
    this.reader.on('ready', () => {
      this.reader.client('ID').then(
        (id) => (this.readerId = Number(id)),
        () => (this.readerId = undefined),
      );
    });
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.readLoop();
    const every = Math.min(
      5_000,
      Math.max(25, Math.floor(this.config.RPC_VISIBILITY_TIMEOUT_MS / 4)),
    );
    this.tick = setInterval(() => void this.maintain(), every);
    this.tick.unref();
  }

  /** Stops reading, then lets the requests in flight finish (within half the shutdown budget). */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.tick);
    this.stopping.abort();
    for (const wake of this.slotWaiters.splice(0)) wake();
    await this.interruptRead();
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

  private async readLoop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        // Connecting, or Redis away: RedisConnections logs the outage; wait without failing.
        if (!(await this.connected())) continue;
        if (!this.groupReady) await this.createGroup();
        await this.freeSlot();
        if (!this.running) break;
        const answer = await this.read(this.config.RPC_CONCURRENCY - this.inFlight.size);
        failures = 0;
        // Entries read are ours now, also after a stop: handled rather than left to be claimed.
        for (const entry of answer?.[0]?.[1] ?? []) this.start(entry, 1);
      } catch (error) {
        // The group (or the whole stream) is gone: Redis lost its data. Created again, from 0.
        if (/NOGROUP/.test(messageOf(error))) this.groupReady = false;
        this.problem(
          'Reading the request stream failed',
          'Reading the request stream failed',
          error,
        );
        failures += 1;
        const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 6));
        await delay(wait, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * One XREADGROUP of up to `count` new entries. ioredis forgets a command in flight when its
   * connection drops (it is not re-sent, and never settles), so a close ends the read here; what
   * Redis delivered to it, if anything, is claimed again after the visibility timeout.
   */
  private read(count: number): Promise<[string, RawEntry[]][] | null> {
    return new Promise((resolve, reject) => {
      const closed = (): void => reject(new Error('the connection closed during the read'));
      this.reader.once('close', closed);
      this.reader
        .xreadgroup(
          'GROUP',
          this.group,
          this.consumer,
          'COUNT',
          count,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.stream,
          '>',
        )
        .then((answer) => resolve(answer), reject)
        .finally(() => this.reader.off('close', closed));
    });
  }

  /** Waits until both connections are ready; false if one is not yet (or at a stop). */
  private async connected(): Promise<boolean> {
    const waiting = [this.reader, this.client].find((client) => client.status !== 'ready');
    if (!waiting) return true;
    await once(waiting, 'ready', { signal: this.stopping.signal }).catch(() => undefined);
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

  /** Resolves once fewer than RPC_CONCURRENCY requests run (or at a stop). */
  private freeSlot(): Promise<void> {
    if (this.inFlight.size < this.config.RPC_CONCURRENCY || !this.running) return Promise.resolve();
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  /**
   * Ends the blocked XREADGROUP at once (it returns as if it timed out, so nothing read is
   * lost). The unblock may overtake a read just sent, so it is repeated until the loop ends.
   */
  private async interruptRead(): Promise<void> {
    let done = false;
    const ended = this.loop.then(() => (done = true));
    while (!done) {
      if (this.readerId !== undefined && this.client.status === 'ready') {
        await this.client.client('UNBLOCK', this.readerId).catch(() => undefined);
      }
      await Promise.race([ended, delay(20)]);
    }
  }

  private start(entry: RawEntry, deliveries: number): void {
    const [id, fields] = entry;
    if (this.inFlight.has(id)) return;
    if (fields === null) {
      // Trimmed from the stream (MAXLEN) before anyone handled it: nothing left to run.
      void this.client.xack(this.stream, this.group, id).catch(() => undefined);
      return;
    }
    const task = this.handle(id, fields, deliveries)
      .catch((error: unknown) => {
        // Not acknowledged: the entry stays pending and is claimed again after the timeout.
        this.problem(
          'A request could not be completed',
          'A request could not be completed; it will be retried',
          error,
        );
      })
      .finally(() => {
        this.inFlight.delete(id);
        this.slotWaiters.shift()?.();
      });
    this.inFlight.set(id, { task, touchedAt: Date.now() });
  }

  // ---- handling --------------------------------------------------------------------------

  private async handle(id: string, fields: string[], deliveries: number): Promise<void> {
    const parsed = parseEntry(fields, this.config.MAX_PAYLOAD_BYTES);
    if (!parsed.ok) return this.deadLetter(id, parsed, deliveries);
    const { request } = parsed;
    if (deliveries > this.config.RPC_MAX_DELIVERIES) {
      const error = new RpcError(
        RpcErrorCode.InternalError,
        `the request failed ${deliveries - 1} times and was moved to the dead letters`,
      );
      return this.deadLetter(
        id,
        {
          reason: 'max_deliveries',
          errors: [],
          payload: fieldOf(fields, 'payload') ?? '',
          correlationId: request.correlationId,
          replyTo: request.replyTo,
        },
        deliveries,
        error,
      );
    }
    if (hasExpired(id, request, Date.now())) {
      const error = new RpcError(RpcErrorCode.Timeout, 'the request expired before it was run');
      return this.finish(id, request, errorReply(request.correlationId, error), 'keep');
    }
    await this.runOnce(id, request);
  }

  /** Runs the request unless its correlation id ran (or runs) already; see the class comment. */
  private async runOnce(id: string, request: BridgeRequest): Promise<void> {
    const key = dedupKey(this.keyPrefix, request.correlationId);
    for (;;) {
      const before = readDedup(
        (await this.client.call(
          'SET',
          key,
          `i${id}`,
          'PX',
          String(this.config.RPC_DEDUP_WINDOW_MS),
          'NX',
          'GET',
        )) as string | null,
      );
      // Ours: never seen, or an earlier delivery of this very entry that did not complete.
      if (before.state === 'free' || (before.state === 'running' && before.entryId === id)) {
        return this.execute(id, request);
      }
      if (before.state === 'done') return this.finish(id, request, before.reply, 'keep');
      // Another entry with this id runs now: wait for its reply rather than run it twice.
      if (!expectsReply(request)) return this.finish(id, request, '', 'keep');
      const after = await this.awaitOther(key, request, id);
      if (after === 'stopped') return;
      if (after.state === 'done') return this.finish(id, request, after.reply, 'keep');
      if (after.state === 'expired') {
        const error = new RpcError(
          RpcErrorCode.Timeout,
          'the request expired while a duplicate ran',
        );
        return this.finish(id, request, errorReply(request.correlationId, error), 'keep');
      }
      // The other attempt gave up its claim (a retryable failure): try to take it.
    }
  }

  private async execute(id: string, request: BridgeRequest): Promise<void> {
    let reply: string;
    let outcome: 'store' | 'release' = 'store';
    try {
      const result = await this.dispatcher.call(request.method, request.params, CALLER);
      reply = successReply(request.correlationId, result);
    } catch (error) {
      const rpcError = asRpcError(error, this.logger);
      reply = errorReply(request.correlationId, rpcError);
      // A retryable failure is not the request's answer for good: a retry may run it.
      if (rpcError.retryable) outcome = 'release';
    }
    await this.finish(id, request, reply, outcome);
  }

  /**
   * Waits for the other attempt of a correlation id to store its reply, polling its key, until
   * the request's own deadline; a stop leaves the entry pending for another instance.
   */
  private async awaitOther(
    key: string,
    request: BridgeRequest,
    id: string,
  ): Promise<DedupState | { state: 'expired' } | 'stopped'> {
    let wait = 5;
    for (;;) {
      if (!this.running) return 'stopped';
      if (hasExpired(id, request, Date.now())) return { state: 'expired' };
      const now = readDedup(await this.client.get(key));
      if (now.state !== 'running') return now;
      await delay(wait, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      wait = Math.min(wait * 2, 200);
    }
  }

  /**
   * Answers and acknowledges in one MULTI: the reply is pushed (when the caller waits for one),
   * stored for duplicates (`store`), or the claim released (`release`), and the entry acked.
   */
  private async finish(
    id: string,
    request: BridgeRequest,
    reply: string,
    outcome: 'store' | 'release' | 'keep',
  ): Promise<void> {
    const multi = this.client.multi();
    if (expectsReply(request) && reply !== '') this.pushReply(multi, request.replyTo, reply);
    const key = dedupKey(this.keyPrefix, request.correlationId);
    if (outcome === 'store') multi.set(key, `d${reply}`, 'PX', this.config.RPC_DEDUP_WINDOW_MS);
    if (outcome === 'release') multi.del(key);
    multi.xack(this.stream, this.group, id);
    this.checkExec(await multi.exec());
  }

  /**
   * Moves an entry that cannot be handled to the dead letters with the reason, the original id
   * and payload, acknowledges it, and answers it when it names a reply list.
   */
  private async deadLetter(
    id: string,
    entry: InvalidEntry | (Omit<InvalidEntry, 'reason'> & { reason: 'max_deliveries' }),
    deliveries: number,
    error?: RpcError,
  ): Promise<void> {
    this.problem(
      `A request moved to the dead letters (${entry.reason})`,
      `Request ${id} moved to the dead letters: ${entry.reason}`,
    );
    const multi = this.client.multi();
    multi.xadd(
      this.config.RPC_DEAD_LETTER_STREAM,
      'MAXLEN',
      '~',
      DEAD_LETTER_MAX_LEN,
      '*',
      'reason',
      entry.reason,
      'error',
      entry.errors.map((e) => `${e.field}: ${e.error}`).join('; ') || (error?.message ?? ''),
      'original_id',
      id,
      'payload',
      entry.payload,
      'deliveries',
      String(deliveries),
      'consumer',
      this.consumer,
    );
    if (entry.replyTo !== undefined) {
      const answer =
        error ??
        new RpcError(RpcErrorCode.InvalidParams, 'the request is invalid', {
          details: { validation_errors: entry.errors },
        });
      this.pushReply(multi, entry.replyTo, errorReply(entry.correlationId, answer));
    }
    if (entry.reason === 'max_deliveries' && entry.correlationId !== undefined) {
      // Its duplicates get the same answer rather than waiting for an attempt that never ends.
      const key = dedupKey(this.keyPrefix, entry.correlationId);
      multi.set(
        key,
        `d${errorReply(entry.correlationId, error ?? failed())}`,
        'PX',
        this.config.RPC_DEDUP_WINDOW_MS,
      );
    }
    multi.xack(this.stream, this.group, id);
    this.checkExec(await multi.exec());
  }

  /**
   * A MULTI that did not run (connection lost, EXECABORT) throws: the entry stays pending. One
   * whose reply list Redis refused (WRONGTYPE) ran the rest, its acknowledgement included.
   */
  private checkExec(results: [Error | null, unknown][] | null): void {
    if (results === null) throw new Error('the transaction was aborted');
    const failed = results.find(([error]) => error !== null)?.[0];
    if (failed)
      this.problem('Redis refused part of a reply', 'Redis refused part of a reply', failed);
  }

  private pushReply(multi: ReturnType<Redis['multi']>, list: string, reply: string): void {
    multi.lpush(list, reply);
    multi.expire(list, this.config.RPC_RESPONSE_TTL_S);
  }

  // ---- claiming --------------------------------------------------------------------------

  /** The periodic work: keep this instance's slow requests ours, then claim abandoned ones. */
  private async maintain(): Promise<void> {
    if (this.ticking || !this.running || !this.groupReady) return;
    this.ticking = true;
    try {
      await this.keepAlive();
      await this.claimAbandoned();
      await this.forgetDeadConsumers();
    } catch (error) {
      if (/NOGROUP/.test(messageOf(error))) this.groupReady = false;
      this.problem(
        'Claiming abandoned requests failed',
        'Claiming abandoned requests failed',
        error,
      );
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Resets the idle time of requests running here for a while (XCLAIM to ourselves, JUSTID: the
   * delivery count stays), so that no other instance claims an entry that is still being run.
   */
  private async keepAlive(): Promise<void> {
    const now = Date.now();
    const due = Math.floor(this.config.RPC_VISIBILITY_TIMEOUT_MS / 4);
    const ids = [...this.inFlight].filter(([, f]) => now - f.touchedAt >= due).map(([id]) => id);
    if (ids.length === 0) return;
    await this.client.call('XCLAIM', this.stream, this.group, this.consumer, '0', ...ids, 'JUSTID');
    for (const id of ids) {
      const entry = this.inFlight.get(id);
      if (entry) entry.touchedAt = now;
    }
  }

  /**
   * Claims entries pending longer than RPC_VISIBILITY_TIMEOUT_MS (their instance died, or their
   * completion failed) with XAUTOCLAIM, as many as there are free slots, and handles them with
   * their delivery count (XPENDING; the claim counted as one more delivery).
   */
  private async claimAbandoned(): Promise<void> {
    for (;;) {
      const free = this.config.RPC_CONCURRENCY - this.inFlight.size;
      if (free <= 0 || !this.running) return;
      const [next, entries] = (await this.client.call(
        'XAUTOCLAIM',
        this.stream,
        this.group,
        this.consumer,
        String(this.config.RPC_VISIBILITY_TIMEOUT_MS),
        this.claimCursor,
        'COUNT',
        String(free),
      )) as [string, RawEntry[]];
      this.claimCursor = next;
      const live = entries.filter(([, fields]) => fields !== null);
      if (live.length > 0) {
        const counts = await this.deliveryCounts(live.map(([id]) => id));
        for (const entry of live) this.start(entry, counts.get(entry[0]) ?? 1);
      }
      // A full scan of the pending entries ends at 0-0; the next tick starts another one.
      if (next === '0-0' || entries.length === 0) return;
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

  private async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.xpending(this.stream, this.group, id, id, 1);
    const answers = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    answers.forEach(([error, rows], i) => {
      const row = !error && Array.isArray(rows) ? (rows[0] as unknown[] | undefined) : undefined;
      if (row) counts.set(ids[i], Number(row[3]));
    });
    return counts;
  }

  /** `kind`: the problem in words, the same for its repeats (LogThrottle's summary names it). */
  private problem(kind: string, line: string, error?: unknown): void {
    const why = error === undefined ? '' : `: ${messageOf(error)}`;
    this.problems.warn(kind, `${line}${why}`);
  }
}

/** Whether anybody waits for this request's reply. */
function expectsReply(request: BridgeRequest): request is BridgeRequest & { replyTo: string } {
  return request.replyTo !== undefined && request.timeoutS > 0;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}

function failed(): RpcError {
  return new RpcError(RpcErrorCode.InternalError, 'the request failed too many times');
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
