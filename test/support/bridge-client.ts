import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../src/redis/redis-client';
import { clusterClient } from './cluster-client';
import { eventually } from './eventually';

/** A request as seed 003's Django client writes it, with the parts a test varies. */
export interface BridgeCall {
  method: string;
  params?: Record<string, unknown>;
  /** Seconds; default 30 as the Django client's. 0: fire-and-forget. */
  timeout?: number;
  correlationId?: string;
  /** Default `list:response:<correlation id>`; null: none (fire-and-forget). */
  replyTo?: string | null;
  /** An explicit entry id (`<ms>-<seq>`), e.g. one in the past. */
  entryId?: string;
  /**
   * Waits after the XADD, on its connection, until this many replicas have it (`WAIT`), at most
   * `timeoutMs`: an entry a replica has survives its master's crash.
   */
  replicated?: { replicas: number; timeoutMs: number };
}

export interface SentCall {
  correlationId: string;
  replyTo: string | undefined;
  entryId: string;
  /** With `replicated`: how many replicas acknowledged the entry (WAIT's answer). */
  replicas?: number;
}

export type Reply = Record<string, unknown>;

/**
 * The backend's side of the bridge in the tests, the way seed 003's Django client talks to it
 * (`XADD stream MAXLEN ~ 10000 * payload <json>`, then the reply list), plus reads of the
 * stream's state (pending entries, dead letters) for the assertions.
 */
export class BridgeClient<C extends RedisClient = Redis> {
  readonly redis: C;

  /** `target`: a redis:// URL, or `{ cluster: 'host:port,…' }` for a Redis Cluster's seeds. */
  constructor(
    target: string | { cluster: string },
    readonly stream: string,
    readonly group = 'rpc_group',
    readonly deadLetters = `${stream}:dlq`,
  ) {
    this.redis = (
      typeof target === 'string'
        ? new Redis(target, { lazyConnect: false, maxRetriesPerRequest: 1 })
        : clusterClient(target.cluster)
    ) as C;
  }

  async send(call: BridgeCall): Promise<SentCall> {
    const correlationId = call.correlationId ?? randomUUID();
    const replyTo =
      call.replyTo === null ? undefined : (call.replyTo ?? `list:response:${correlationId}`);
    const payload = {
      type: 'rpc',
      method: call.method,
      params: call.params ?? {},
      correlation_id: correlationId,
      ...(replyTo !== undefined && { reply_to: replyTo }),
      timeout: call.timeout ?? 30,
    };
    if (call.replicated) {
      const { replicas, timeoutMs } = call.replicated;
      // One pipeline goes to the stream's master, the WAIT after the XADD on its connection.
      const [[addError, id], [waitError, acked]] = ((await this.redis
        .pipeline()
        .xadd(
          this.stream,
          'MAXLEN',
          '~',
          10_000,
          call.entryId ?? '*',
          'payload',
          JSON.stringify(payload),
        )
        .call('WAIT', replicas, timeoutMs)
        .exec()) ?? []) as [Error | null, unknown][];
      const failed = addError ?? waitError;
      if (failed) throw failed;
      return { correlationId, replyTo, entryId: String(id), replicas: Number(acked) };
    }
    const entryId = await this.sendRaw(JSON.stringify(payload), call.entryId);
    return { correlationId, replyTo, entryId };
  }

  /** Adds an entry with `payload` as it is (valid or not); resolves with its id. */
  async sendRaw(payload: string, entryId = '*', field = 'payload'): Promise<string> {
    const id = await this.redis.xadd(this.stream, 'MAXLEN', '~', 10_000, entryId, field, payload);
    return String(id);
  }

  /** The replies pushed to `list` (oldest first), once there are `count` of them. */
  async replies(list: string, count = 1, timeoutMs = 10_000): Promise<Reply[]> {
    const raw = await eventually(
      `${count} repl(ies) in ${list}`,
      () => this.redis.lrange(list, 0, -1),
      { done: (items) => items.length >= count, timeoutMs, intervalMs: 20 },
    );
    return raw.reverse().map((item) => JSON.parse(item) as Reply);
  }

  async reply(sent: SentCall, timeoutMs?: number): Promise<Reply> {
    if (sent.replyTo === undefined) throw new Error('this call has no reply list');
    return (await this.replies(sent.replyTo, 1, timeoutMs))[0];
  }

  /** Entries of the group delivered and not acknowledged. */
  async pending(): Promise<number> {
    const summary = (await this.redis.xpending(this.stream, this.group)) as [number, ...unknown[]];
    return Number(summary[0]);
  }

  /** Waits until no entry of the group is pending (every one read was acknowledged). */
  async settled(timeoutMs = 10_000): Promise<void> {
    await eventually('no pending entries', () => this.pending(), {
      done: (n) => n === 0,
      timeoutMs,
    });
  }

  /** The dead letters, as field maps. */
  async deadLetterEntries(): Promise<Record<string, string>[]> {
    const entries = await this.redis.xrange(this.deadLetters, '-', '+');
    return entries.map(([, fields]) => {
      const map: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]] = fields[i + 1];
      return map;
    });
  }

  close(): Promise<void> {
    return this.redis.quit().then(() => undefined);
  }
}
