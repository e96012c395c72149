import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { historyWindow } from './history-window';
import type { HistoryOptions, HistoryResult, RoomBroker } from './room-broker';
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
}

const DEFAULTS: InMemoryHistoryOptions = { size: 0, ttlMs: POSITION_TTL_MS, maxRooms: 100_000 };

interface RoomStream extends StreamPosition {
  touchedAt: number;
  /** The newest `size` publications, oldest first; a ring: `start` is the oldest's index. */
  ring: Publication[];
  start: number;
}

/**
 * Single-instance broker: every subscriber is local, so publishing is delivering, synchronously
 * and in call order. Each room's position and history live in memory: a restart starts every
 * room in a new epoch. Memory is bounded: a room's stream is dropped HISTORY_TTL_MS after its
 * newest publication, and past HISTORY_MAX_ROOMS rooms the least recently published one is (its
 * next publication starts a new epoch, which is what a client expects after losing track). Worst
 * case: HISTORY_MAX_ROOMS × HISTORY_SIZE publications of at most MAX_PAYLOAD_BYTES each.
 */
@Injectable()
export class InMemoryRoomBroker implements RoomBroker, OnModuleDestroy {
  /** Insertion order is publication recency: a published room is moved to the end. */
  private readonly streams = new Map<string, RoomStream>();
  private readonly refs = new Map<string, number>();
  private readonly handlers: PublicationHandler[] = [];
  private readonly options: InMemoryHistoryOptions;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    options: Partial<InMemoryHistoryOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULTS, ...options };
    const every = Math.min(60_000, Math.max(1_000, Math.floor(this.options.ttlMs / 4)));
    this.sweep = setInterval(() => this.forgetIdle(), every);
    this.sweep.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweep);
  }

  publish(roomId: string, data: PublicationData): Promise<StreamPosition> {
    const stream = this.stream(roomId);
    stream.offset += 1;
    stream.touchedAt = this.now();
    this.streams.delete(roomId);
    this.streams.set(roomId, stream);
    const publication: Publication = { roomId, offset: stream.offset, epoch: stream.epoch, data };
    this.retain(stream, publication);
    if (this.refs.has(roomId)) {
      for (const handler of this.handlers) handler(publication);
    }
    return Promise.resolve({ offset: stream.offset, epoch: stream.epoch });
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
    const retained = [...stream.ring.slice(stream.start), ...stream.ring.slice(0, stream.start)];
    return Promise.resolve({
      publications: historyWindow(retained, stream.epoch, options),
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

  private retain(stream: RoomStream, publication: Publication): void {
    const { size } = this.options;
    if (size === 0) return;
    if (stream.ring.length < size) {
      stream.ring.push(publication);
      return;
    }
    stream.ring[stream.start] = publication;
    stream.start = (stream.start + 1) % size;
  }

  private stream(roomId: string): RoomStream {
    let stream = this.streams.get(roomId);
    if (!stream) {
      stream = { offset: 0, epoch: newEpoch(), touchedAt: this.now(), ring: [], start: 0 };
      this.streams.set(roomId, stream);
      if (this.streams.size > this.options.maxRooms) {
        const oldest = this.streams.keys().next().value;
        if (oldest !== undefined) this.streams.delete(oldest);
      }
    }
    return stream;
  }

  private forgetIdle(): void {
    const cutoff = this.now() - this.options.ttlMs;
    for (const [roomId, stream] of this.streams) {
      if (stream.touchedAt > cutoff) break;
      this.streams.delete(roomId);
    }
  }
}
