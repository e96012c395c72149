import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { historyWindow } from './history-window';
import {
  IDEMPOTENCY_MAX_KEYS,
  IDEMPOTENCY_MAX_KEYS_PER_ROOM,
  IdempotencyKeys,
} from './idempotency-keys';
import type {
  HistoryOptions,
  HistoryResult,
  PublishOptions,
  PublishResult,
  RoomBroker,
} from './room-broker';
import type {
  Publication,
  PublicationData,
  PublicationHandler,
  StreamPosition,
} from './publication';
import { POSITION_TTL_MS, newEpoch } from './stream-epoch';

export interface InMemoryHistoryOptions {
  /** Publications kept per room (HISTORY_SIZE); 0 keeps none. */
  size: number;
  /** A room is forgotten this long after its newest publication (HISTORY_TTL_MS). */
  ttlMs: number;
  /** Rooms kept at most (HISTORY_MAX_ROOMS); the least recently published goes first. */
  maxRooms: number;
  /** Bytes of history kept at most, all rooms together (HISTORY_MAX_BYTES); see `sizeOf`. */
  maxBytes: number;
  /** How long an idempotency key is remembered (IDEMPOTENCY_WINDOW_MS); 0: not at all. */
  idempotencyWindowMs: number;
  /** Idempotency keys kept at most per room, and all rooms together. */
  idempotencyMaxKeysPerRoom: number;
  idempotencyMaxKeys: number;
}

const DEFAULTS: InMemoryHistoryOptions = {
  size: 0,
  ttlMs: POSITION_TTL_MS,
  maxRooms: 100_000,
  maxBytes: Number.MAX_SAFE_INTEGER,
  idempotencyWindowMs: 300_000,
  idempotencyMaxKeysPerRoom: IDEMPOTENCY_MAX_KEYS_PER_ROOM,
  idempotencyMaxKeys: IDEMPOTENCY_MAX_KEYS,
};

/**
 * What one retained publication is counted as: its text at two bytes a character (what V8 needs
 * at worst) plus what holding it costs besides (its data object and ring slot, measured at
 * under 100 bytes on Node 20; see docs/reliability.md).
 */
export const PUBLICATION_OVERHEAD_BYTES = 128;

export function sizeOf(data: PublicationData): number {
  const text = data.kind === 'frame' ? data.frame : data.userId;
  return 2 * text.length + PUBLICATION_OVERHEAD_BYTES;
}

interface RoomStream extends StreamPosition {
  touchedAt: number;
  /**
   * The newest `size` publications' data, oldest first from index `start` (a ring): offsets are
   * consecutive, so the newest is `offset` and no position is stored per publication.
   */
  ring: PublicationData[];
  start: number;
  /** `sizeOf` of everything in the ring. */
  bytes: number;
}

/**
 * Single-instance broker: every subscriber is local, so publishing is delivering, synchronously
 * and in call order. Each room's position and history live in memory: a restart starts every
 * room in a new epoch. Memory is bounded: a room's stream is dropped HISTORY_TTL_MS after its
 * newest publication, and past HISTORY_MAX_ROOMS rooms or HISTORY_MAX_BYTES of history the least
 * recently published rooms are (their next publication starts a new epoch, which is what a
 * client expects after losing track).
 */
@Injectable()
export class InMemoryRoomBroker implements RoomBroker, OnModuleDestroy {
  /** Insertion order is publication recency: a published room is moved to the end. */
  private readonly streams = new Map<string, RoomStream>();
  private readonly refs = new Map<string, number>();
  private readonly handlers: PublicationHandler[] = [];
  private readonly options: InMemoryHistoryOptions;
  private readonly idempotency: IdempotencyKeys;
  private readonly sweep: NodeJS.Timeout;
  /** `sizeOf` of every retained publication. */
  private bytes = 0;

  constructor(
    options: Partial<InMemoryHistoryOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.idempotency = new IdempotencyKeys(
      {
        windowMs: this.options.idempotencyWindowMs,
        maxPerRoom: this.options.idempotencyMaxKeysPerRoom,
        maxTotal: this.options.idempotencyMaxKeys,
      },
      now,
    );
    const every = Math.min(60_000, Math.max(1_000, Math.floor(this.options.ttlMs / 4)));
    this.sweep = setInterval(() => this.forgetIdle(), every);
    this.sweep.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweep);
  }

  publish(
    roomId: string,
    data: PublicationData,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const key = options.idempotencyKey;
    const first = key === undefined ? undefined : this.idempotency.get(roomId, key);
    if (first) {
      options.onOrdered?.();
      return Promise.resolve(this.duplicateOf(roomId, first));
    }
    const stream = this.stream(roomId);
    stream.offset += 1;
    stream.touchedAt = this.now();
    this.streams.delete(roomId);
    this.streams.set(roomId, stream);
    // A membership change is stamped with the time it is published, as Redis' script does.
    const stamped: PublicationData =
      data.kind === 'frame' ? data : { ...data, at: stream.touchedAt };
    this.retain(roomId, stream, stamped);
    if (this.refs.has(roomId)) {
      const publication: Publication = {
        roomId,
        offset: stream.offset,
        epoch: stream.epoch,
        data: stamped,
      };
      for (const handler of this.handlers) handler(publication);
    }
    const position = { offset: stream.offset, epoch: stream.epoch };
    if (key !== undefined) this.idempotency.remember(roomId, key, position);
    options.onOrdered?.();
    return Promise.resolve({ ...position, duplicate: false });
  }

  /**
   * A room that has neither a stream nor a subscriber is not created by reading it (asking
   * about random rooms must not evict real ones): it answers offset 0 of an epoch of its own,
   * which no later stream of the room will match.
   */
  history(roomId: string, options: HistoryOptions): Promise<HistoryResult> {
    if (!this.streams.has(roomId) && !this.refs.has(roomId)) {
      return Promise.resolve({ publications: [], position: { offset: 0, epoch: newEpoch() } });
    }
    const stream = this.stream(roomId);
    // Every join reads the position alone (limit 0): no publication is built for it.
    const publications =
      options.limit > 0 ? historyWindow(this.retained(roomId, stream), stream.epoch, options) : [];
    return Promise.resolve({
      publications,
      position: { offset: stream.offset, epoch: stream.epoch },
    });
  }

  subscribe(roomId: string): Promise<void> {
    this.refs.set(roomId, (this.refs.get(roomId) ?? 0) + 1);
    return Promise.resolve();
  }

  unsubscribe(roomId: string): Promise<void> {
    const count = (this.refs.get(roomId) ?? 0) - 1;
    if (count > 0) this.refs.set(roomId, count);
    else this.refs.delete(roomId);
    return Promise.resolve();
  }

  onPublication(handler: PublicationHandler): void {
    this.handlers.push(handler);
  }

  /** Rooms whose stream is kept. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** What the retained publications are counted as, all rooms together (see `sizeOf`). */
  get retainedBytes(): number {
    return this.bytes;
  }

  /** Idempotency keys remembered, all rooms together. */
  get idempotencyKeyCount(): number {
    return this.idempotency.size;
  }

  /** A duplicate's answer: the first position, with its data while the ring still holds it. */
  private duplicateOf(roomId: string, first: StreamPosition): PublishResult {
    const stream = this.streams.get(roomId);
    const age = stream && stream.epoch === first.epoch ? stream.offset - first.offset : -1;
    const original =
      stream && age >= 0 && age < stream.ring.length
        ? stream.ring[(stream.start + stream.ring.length - 1 - age) % stream.ring.length]
        : undefined;
    return { ...first, duplicate: true, ...(original && { original }) };
  }

  /** The ring as publications, oldest first. */
  private retained(roomId: string, stream: RoomStream): Publication[] {
    const { ring, start, epoch } = stream;
    const oldest = stream.offset - ring.length + 1;
    const publications: Publication[] = [];
    for (let i = 0; i < ring.length; i++) {
      const data = ring[(start + i) % ring.length];
      publications.push({ roomId, offset: oldest + i, epoch, data });
    }
    return publications;
  }

  private retain(roomId: string, stream: RoomStream, data: PublicationData): void {
    const { size } = this.options;
    if (size === 0) return;
    const added = sizeOf(data);
    if (stream.ring.length < size) {
      stream.ring.push(data);
    } else {
      const dropped = stream.ring[stream.start];
      stream.bytes -= sizeOf(dropped);
      this.bytes -= sizeOf(dropped);
      stream.ring[stream.start] = data;
      stream.start = (stream.start + 1) % size;
    }
    stream.bytes += added;
    this.bytes += added;
    // The least recently published rooms go first; the room just published is the most recent.
    for (const [oldest] of this.streams) {
      if (this.bytes <= this.options.maxBytes || oldest === roomId) break;
      this.forget(oldest);
    }
  }

  private stream(roomId: string): RoomStream {
    let stream = this.streams.get(roomId);
    if (!stream) {
      stream = {
        offset: 0,
        epoch: newEpoch(),
        touchedAt: this.now(),
        ring: [],
        start: 0,
        bytes: 0,
      };
      this.streams.set(roomId, stream);
      if (this.streams.size > this.options.maxRooms) {
        const oldest = this.streams.keys().next().value;
        if (oldest !== undefined) this.forget(oldest);
      }
    }
    return stream;
  }

  private forget(roomId: string): void {
    const stream = this.streams.get(roomId);
    if (!stream) return;
    this.bytes -= stream.bytes;
    this.streams.delete(roomId);
  }

  private forgetIdle(): void {
    this.idempotency.expire();
    const cutoff = this.now() - this.options.ttlMs;
    for (const [roomId, stream] of this.streams) {
      if (stream.touchedAt > cutoff) break;
      this.forget(roomId);
    }
  }
}
