import { createHash } from 'node:crypto';
import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type {
  HistoryOptions,
  HistoryResult,
  PublishOptions,
  PublishResult,
  RoomBroker,
} from '../rooms/room-broker';
import { BrokerUnavailableError } from '../rooms/room-broker';
import {
  type Publication,
  type PublicationData,
  type PublicationHandler,
  type StreamPosition,
} from '../rooms/publication';
import {
  type DecodedPublication,
  decodePublication,
  decodeStored,
  encodeData,
} from './channel-codec';
import { type RedisClient, isCluster } from './redis-client';
import { RedisConnections } from './redis-connections';
import { keySlot } from './key-slot';
import { runScript } from './redis-scripts';
import { ShardSubscriptions } from './shard-subscriptions';

/** Longest wait for the rooms to be subscribed again after a subscriber reconnect. */
const SUBSCRIBE_WAIT_MS = 2_000;

/** Rooms read back from their streams at once after a reconnect. */
const RESYNC_CONCURRENCY = 32;

/** How soon rooms whose re-SSUBSCRIBE failed are tried again (besides each slot map change). */
const SHARD_RETRY_MS = 500;

/** The subscribe commands of plain and sharded pub/sub, and the event their messages come in. */
const PUBSUB = {
  plain: { subscribe: 'subscribe', unsubscribe: 'unsubscribe', message: 'message' },
  sharded: { subscribe: 'ssubscribe', unsubscribe: 'sunsubscribe', message: 'smessage' },
} as const;

/**
 * Where this instance stands in one subscribed room's stream: the last publication it handed to
 * its consumers; while a resync reads the stream, what arrives meanwhile waits.
 */
interface RoomCursor {
  offset: number;
  epoch: string;
  /** Of the publication at `offset`: what a stream that lost it after a failover no longer has. */
  fingerprint: string;
  waiting: DecodedPublication[] | undefined;
}

/** A history read: the position and the retained entries, with who already showed them. */
interface StreamRead {
  position: StreamPosition;
  entries: DecodedPublication[];
}

/**
 * Cross-instance positioned publish-subscribe over Redis, one channel per room: an instance
 * subscribes only to the rooms it has local subscribers in. A publication is numbered and
 * published by one script (lua/publish.lua), so a room's offsets follow the order Redis ran
 * them, and every instance, the publisher's included, delivers from its subscription: all
 * members of a room see one order. While Redis is away, publishing is refused (a publication
 * reaches the whole room and its history, or nobody), and the rooms are subscribed again when it
 * returns; publishing waits until those subscriptions are confirmed, so an instance never misses
 * its own publications (the sender's echo) after a reconnect. An idempotency key is checked and
 * recorded by the same script, under P{room}:idem:<key>, in the room's hash slot.
 *
 * With sharded pub/sub (REDIS_SHARDED_PUBSUB), channels go out with SPUBLISH and are read with
 * SSUBSCRIBE, on a cluster from the shard that owns the room: a shard's failover or a slot moved
 * away loses the subscriptions of that shard's rooms only; those rooms are subscribed again once
 * the slot map shows their new owner, and read back from their cursors, while publishing to them
 * waits (as for a reconnect) and the rooms of the other shards notice nothing.
 *
 * Pub/sub may lose messages (a connection that blinks); the stream does not. Each subscribed room
 * keeps a cursor: a publication whose offset skips ahead of it makes the broker read the missing
 * ones from the room's stream before handing on the rest (waiting meanwhile), and every room is
 * read back from its cursor after a subscriber reconnect. So a room's publications reach the
 * consumers once each, in offset order, as long as the stream still holds them
 * (HISTORY_SIZE, HISTORY_TTL_MS); what it no longer holds is skipped and logged.
 */
export class RedisRoomBroker implements RoomBroker, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RedisRoomBroker.name);
  private readonly handlers: PublicationHandler[] = [];
  /** Local subscribers per room: subscribed while positive. */
  private readonly refs = new Map<string, number>();
  /** SUBSCRIBE in flight per room: later subscribers wait for it too. */
  private readonly pending = new Map<string, Promise<void>>();
  /** Open from a subscriber disconnect (or a start without Redis) until the re-SUBSCRIBE that
   * follows the reconnect is acknowledged: publishing waits on it. */
  private gate: { opened: Promise<void>; open: () => void } | undefined;
  /** Subscriber disconnects so far: a re-SUBSCRIBE opens the gate only if none came after it. */
  private disconnects = 0;
  /** Per subscribed room, from its first publication received on. */
  private readonly cursors = new Map<string, RoomCursor>();
  private readonly pubsub: (typeof PUBSUB)['plain' | 'sharded'];
  /** Sharded pub/sub on a cluster: which shard reads each room, and the rooms lost meanwhile. */
  private readonly shards: ShardSubscriptions | undefined;
  /** A recovery of lost rooms runs; `again`: the slot map changed meanwhile. */
  private recovery: { again: boolean } | undefined;
  private retry: NodeJS.Timeout | undefined;

  /**
   * `idempotencyWindowMs`: how long an idempotency key is remembered (IDEMPOTENCY_WINDOW_MS); 0
   * remembers none.
   */
  constructor(
    private readonly redis: RedisConnections,
    private readonly idempotencyWindowMs = 300_000,
  ) {
    this.pubsub = redis.shardedPubSub ? PUBSUB.sharded : PUBSUB.plain;
    const { subscriber } = redis;
    if (redis.shardedPubSub && isCluster(subscriber)) {
      this.shards = new ShardSubscriptions(
        (roomId) => subscriber.slots[keySlot(this.channel(roomId))]?.[0],
      );
    }
  }

  onModuleInit(): void {
    const { subscriber } = this.redis;
    subscriber.on(this.pubsub.message, (channel: string, message: string) =>
      this.receive(channel, message),
    );
    if (subscriber.status !== 'ready') this.closeGate();
    subscriber.on('close', () => {
      this.disconnects += 1;
      this.closeGate();
    });
    subscriber.on('ready', () => void this.resubscribe());
    if (this.shards) this.watchShards(subscriber, this.shards);
  }

  onModuleDestroy(): void {
    clearTimeout(this.retry);
  }

  /**
   * With Redis away (the command cannot be sent) nothing is published: the caller is refused,
   * never served by this instance alone. A publish that fails once sent (a timeout) may still be
   * executed by Redis, so it is not retried here: at most once, never twice; the caller's retry
   * with the same idempotency key finds it if it was made.
   */
  async publish(
    roomId: string,
    data: PublicationData,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    if (this.gate && this.redis.ready) await this.whenSubscribed();
    const lost = this.shards?.whenSubscribed(roomId);
    if (lost && this.redis.ready) await bounded(lost, SUBSCRIBE_WAIT_MS);
    if (!this.redis.ready) {
      throw new BrokerUnavailableError(`publish to ${roomId} refused: Redis is unavailable`);
    }
    const { keys } = this.redis;
    const key = options.idempotencyKey;
    const once = key !== undefined && this.idempotencyWindowMs > 0;
    const scriptKeys = [
      keys.room(roomId, 'meta'),
      keys.room(roomId, 'ch'),
      keys.room(roomId, 'hist'),
      ...(once ? [keys.idempotency(roomId, key)] : []),
    ];
    const args = [...encodeData(data), ...(once ? [String(this.idempotencyWindowMs)] : [])];
    let reply: [number, string, number, string];
    try {
      const sent = runScript(
        this.redis.command,
        this.redis.scripts,
        once ? 'chatPublishOnce' : 'chatPublish',
        scriptKeys,
        args,
      );
      // Sent on the command connection: Redis runs it before anything sent after it.
      options.onOrdered?.();
      reply = (await sent) as [number, string, number, string];
    } catch (error) {
      this.redis.failed(error);
      throw new BrokerUnavailableError(`publish to ${roomId} failed: ${(error as Error).message}`);
    }
    const [offset, epoch, duplicate, stored] = reply;
    if (duplicate !== 1) return { offset, epoch, duplicate: false };
    const original = stored ? decodeStored(roomId, { offset, epoch }, stored) : undefined;
    return {
      offset,
      epoch,
      duplicate: true,
      ...(original && { original: original.publication.data }),
    };
  }

  /** The position and the retained publications, read by one script (lua/history.lua). */
  async history(roomId: string, options: HistoryOptions): Promise<HistoryResult> {
    const { position, entries } = await this.read(roomId, options);
    return { position, publications: entries.map((entry) => entry.publication) };
  }

  async subscribe(roomId: string): Promise<void> {
    const count = (this.refs.get(roomId) ?? 0) + 1;
    this.refs.set(roomId, count);
    if (count === 1) {
      const subscribed = this.command('subscribe', roomId).finally(() => {
        if (this.pending.get(roomId) === subscribed) this.pending.delete(roomId);
      });
      this.pending.set(roomId, subscribed);
    }
    await this.pending.get(roomId);
  }

  async unsubscribe(roomId: string): Promise<void> {
    const count = (this.refs.get(roomId) ?? 0) - 1;
    if (count > 0) {
      this.refs.set(roomId, count);
      return;
    }
    this.refs.delete(roomId);
    this.cursors.delete(roomId);
    this.shards?.removed(roomId);
    await this.command('unsubscribe', roomId);
  }

  onPublication(handler: PublicationHandler): void {
    this.handlers.push(handler);
  }

  /**
   * Resolves once the rooms are subscribed again after a subscriber reconnect (at once when they
   * are), or after `timeoutMs` at most: a Redis that accepts the connection and never answers the
   * SUBSCRIBE must not hold up the caller (a session's queue) for ever.
   */
  async whenSubscribed(timeoutMs = SUBSCRIBE_WAIT_MS): Promise<void> {
    if (this.gate) await bounded(this.gate.opened, timeoutMs);
  }

  /** Rooms this instance receives. */
  get subscribedRooms(): number {
    return this.refs.size;
  }

  private receive(channel: string, message: string): void {
    const roomId = this.redis.keys.roomOfChannel(channel);
    if (roomId === undefined) return;
    const decoded = decodePublication(roomId, message);
    if (!decoded) {
      this.logger.warn(`Dropped a malformed publication on the channel of ${roomId}`);
      return;
    }
    this.sequence(decoded);
  }

  /**
   * Hands on a room's publications in offset order, once each. A skip ahead of the cursor starts
   * a resync (unless `force`d: the resync itself hands on what it read and what waited, skipping
   * what the stream no longer holds).
   */
  private sequence(decoded: DecodedPublication, force = false): void {
    const { publication } = decoded;
    const { roomId, offset, epoch } = publication;
    const cursor = this.refs.has(roomId) ? this.cursors.get(roomId) : undefined;
    if (cursor?.waiting && !force) {
      cursor.waiting.push(decoded);
      return;
    }
    if (cursor && cursor.epoch === epoch) {
      if (offset <= cursor.offset) return; // handed on already, by a resync
      if (offset > cursor.offset + 1) {
        if (!force && this.redis.scripts.historySize > 0) {
          cursor.waiting = [decoded];
          void this.resync(roomId, cursor);
          return;
        }
        this.logger.warn(`Skipped ${offset - cursor.offset - 1} lost publication(s) of ${roomId}`);
      }
    }
    const fingerprint = fingerprintOf(publication.data);
    if (cursor) {
      cursor.offset = offset;
      cursor.epoch = epoch;
      cursor.fingerprint = fingerprint;
    } else if (this.refs.has(roomId)) {
      this.cursors.set(roomId, { offset, epoch, fingerprint, waiting: undefined });
    }
    this.dispatch(publication);
  }

  /**
   * Reads what the room's stream holds after the cursor, then hands it on with what waited. With
   * `verify` (after a shard's failover), the stream must still hold the cursor's own publication:
   * a replica promoted before it received the newest writes lost them, and the room then gets a
   * new epoch (lua/rebase.lua) instead of numbering new publications as the lost ones.
   */
  private async resync(roomId: string, cursor: RoomCursor, verify = false): Promise<void> {
    let entries: DecodedPublication[] = [];
    try {
      const { historySize } = this.redis.scripts;
      const checked = verify && cursor.offset > 1;
      const since = { offset: cursor.offset - (checked ? 1 : 0), epoch: cursor.epoch };
      const read = await this.read(roomId, { since, limit: historySize + 1 });
      entries = read.entries;
      if (checked && read.position.epoch === cursor.epoch) {
        const own = entries.find((entry) => entry.publication.offset === cursor.offset);
        const kept = read.position.offset - cursor.offset < historySize;
        if (kept && (!own || fingerprintOf(own.publication.data) !== cursor.fingerprint)) {
          await this.rebase(roomId, cursor);
          entries = [];
        }
      }
    } catch (error) {
      this.logger.warn(
        `Reading ${roomId} back from its stream failed: ${(error as Error).message}`,
      );
    }
    if (this.cursors.get(roomId) !== cursor) return; // unsubscribed meanwhile
    const waiting = cursor.waiting ?? [];
    cursor.waiting = undefined;
    for (const entry of entries) this.sequence(entry, true);
    for (const entry of waiting) this.sequence(entry, true);
  }

  /** A new epoch for a room whose stream lost publications this instance handed on. */
  private async rebase(roomId: string, cursor: RoomCursor): Promise<void> {
    this.logger.warn(
      `The stream of ${roomId} lost publications after a failover: it starts a new epoch`,
    );
    const meta = this.redis.keys.room(roomId, 'meta');
    try {
      await runScript(this.redis.command, this.redis.scripts, 'chatRebase', [meta], [cursor.epoch]);
    } catch (error) {
      this.redis.failed(error);
      throw error;
    }
  }

  /** After a reconnect: every room (or `only` these) is read back from its cursor, a few at a
   * time; `verify`: see resync. */
  private async resyncAll(only?: readonly string[], verify = false): Promise<void> {
    if (this.redis.scripts.historySize === 0) return;
    const candidates = only
      ? only.flatMap((roomId) => {
          const cursor = this.cursors.get(roomId);
          return cursor ? [[roomId, cursor] as const] : [];
        })
      : [...this.cursors];
    const rooms = candidates.filter(([, cursor]) => cursor.waiting === undefined);
    const next = async (): Promise<void> => {
      for (let room = rooms.shift(); room; room = rooms.shift()) {
        const [roomId, cursor] = room;
        if (this.cursors.get(roomId) !== cursor || cursor.waiting) continue;
        cursor.waiting = [];
        await this.resync(roomId, cursor, verify);
      }
    };
    await Promise.all(Array.from({ length: RESYNC_CONCURRENCY }, next));
  }

  private async read(
    roomId: string,
    { since, before, limit }: HistoryOptions,
  ): Promise<StreamRead> {
    const { keys } = this.redis;
    const mode = since ? 'since' : before !== undefined ? 'before' : 'newest';
    const args = [
      mode,
      String(since?.offset ?? before ?? 0),
      since?.epoch ?? '',
      String(Math.max(0, limit)),
      this.refs.has(roomId) ? '1' : '0',
    ];
    try {
      const [offset, epoch, flat] = (await runScript(
        this.redis.command,
        this.redis.scripts,
        'chatHistory',
        [keys.room(roomId, 'meta'), keys.room(roomId, 'hist')],
        args,
      )) as [number, string, (number | string)[]];
      const entries: DecodedPublication[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const position = { offset: Number(flat[i]), epoch };
        const entry = decodeStored(roomId, position, String(flat[i + 1]));
        if (entry) entries.push(entry);
      }
      return { entries, position: { offset: Number(offset), epoch } };
    } catch (error) {
      this.redis.failed(error);
      throw new BrokerUnavailableError(`history of ${roomId} failed: ${(error as Error).message}`);
    }
  }

  private dispatch(publication: Publication): void {
    for (const handler of this.handlers) handler(publication);
  }

  /** A failure is not the caller's: the room is re-subscribed when Redis is back (on a cluster
   * with sharded pub/sub, when its shard answers). */
  private async command(verb: 'subscribe' | 'unsubscribe', roomId: string): Promise<void> {
    if (this.redis.subscriber.status !== 'ready') return;
    const name = this.pubsub[verb];
    try {
      await this.redis.subscriber[name](this.channel(roomId));
      if (verb === 'subscribe' && this.refs.has(roomId)) this.shards?.subscribed(roomId);
    } catch (error) {
      this.redis.failed(error);
      this.logger.warn(`Redis ${name} ${roomId} failed: ${(error as Error).message}`);
      if (verb === 'subscribe' && this.shards) {
        this.shards.roomLost(roomId);
        this.retryShards();
      }
    }
  }

  private channel(roomId: string): string {
    return this.redis.keys.room(roomId, 'ch');
  }

  /**
   * A sharded subscriber connection that ends (its shard failed) loses its rooms at once; they,
   * and the rooms of slots that moved, are subscribed again each time ioredis has rebuilt its
   * shard subscribers from a new slot map ('subscribersReady'), and read back from their cursors.
   * ioredis re-SSUBSCRIBEs them too, without telling when it is done: the broker's own SSUBSCRIBE
   * (the same subscription again) is the acknowledgement its gate waits for.
   */
  private watchShards(subscriber: RedisClient, shards: ShardSubscriptions): void {
    subscriber.on('-node', (_node: unknown, shard?: string) => {
      // Only the sharded subscribers name the node ('-node' of a command connection does not).
      if (typeof shard === 'string') shards.shardLost(shard);
    });
    subscriber.on('subscribersReady', () => void this.recoverShards());
  }

  /** Subscribes the lost and moved rooms again and reads them back; one run at a time. */
  private async recoverShards(): Promise<void> {
    const shards = this.shards;
    if (!shards || this.redis.subscriber.status !== 'ready') return;
    if (this.recovery) {
      this.recovery.again = true;
      return;
    }
    const recovery = { again: true };
    this.recovery = recovery;
    try {
      while (recovery.again) {
        recovery.again = false;
        const rooms = shards.stale(this.refs.keys());
        if (rooms.length === 0) continue;
        const back = await this.subscribeRooms(rooms);
        if (back.length > 0) {
          this.logger.log(`Subscribed ${back.length} room(s) again after a shard change`);
        }
        void this.resyncAll(back, true);
        if (back.length < rooms.length) this.retryShards();
      }
    } finally {
      this.recovery = undefined;
    }
  }

  private retryShards(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.recoverShards();
    }, SHARD_RETRY_MS);
    this.retry.unref();
  }

  /**
   * SSUBSCRIBEs `rooms`, one command per slot (a command's channels must share one); returns the
   * rooms subscribed. On a cluster, a room whose command failed is marked lost, to be retried.
   */
  private async subscribeRooms(rooms: readonly string[]): Promise<string[]> {
    const bySlot = new Map<number, string[]>();
    for (const roomId of rooms) {
      const slot = keySlot(this.channel(roomId));
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), roomId]);
    }
    const back: string[] = [];
    let failure: unknown;
    await Promise.all(
      [...bySlot.values()].map(async (group) => {
        try {
          await this.redis.subscriber.ssubscribe(...group.map((roomId) => this.channel(roomId)));
          for (const roomId of group) {
            if (!this.refs.has(roomId)) continue;
            this.shards?.subscribed(roomId);
            back.push(roomId);
          }
        } catch (error) {
          failure = error;
          this.redis.failed(error);
          for (const roomId of group) this.shards?.roomLost(roomId);
        }
      }),
    );
    if (failure !== undefined) {
      this.logger.warn(
        `Re-subscribing ${rooms.length - back.length} room(s) failed: ${(failure as Error).message}`,
      );
    }
    return back;
  }

  private closeGate(): void {
    if (this.gate) return;
    let open = (): void => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { opened, open };
  }

  /** Subscribes every room with local subscribers again (each reconnect, and the first connect
   * after a start without Redis). The gate opens only if the subscriber is still connected and did
   * not drop again meanwhile; otherwise the next reconnect's re-SUBSCRIBE opens it. */
  private async resubscribe(): Promise<void> {
    const disconnects = this.disconnects;
    const rooms = [...this.refs.keys()];
    let subscribed = true;
    if (this.redis.shardedPubSub) {
      // Per slot; on a cluster, the rooms of a shard that fails meanwhile are retried apart
      // (the others need not wait for it), on one Redis the reconnect is retried.
      const back = rooms.length > 0 ? await this.subscribeRooms(rooms) : [];
      if (!this.shards && back.length < rooms.length) subscribed = false;
    } else {
      try {
        const channels = rooms.map((roomId) => this.channel(roomId));
        if (channels.length > 0) await this.redis.subscriber.subscribe(...channels);
      } catch (error) {
        subscribed = false;
        this.redis.failed(error);
        this.logger.warn(
          `Re-subscribing ${rooms.length} room(s) failed: ${(error as Error).message}`,
        );
      }
    }
    if (!subscribed || disconnects !== this.disconnects) return;
    if (this.redis.subscriber.status !== 'ready') return;
    const gate = this.gate;
    this.gate = undefined;
    gate?.open();
    void this.resyncAll();
  }
}

/** Resolves when `promise` does, or after `timeoutMs` at most. */
async function bounded(promise: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

/** Identifies a publication's content (live and stored decode to the same data). */
function fingerprintOf(data: PublicationData): string {
  return createHash('sha1').update(JSON.stringify(data)).digest('base64');
}
