import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { HistoryOptions, HistoryResult, RoomBroker } from './room-broker';
import type { PublicationData, PublicationHandler, StreamPosition } from './publication';
import { POSITION_TTL_MS, newEpoch } from './stream-epoch';

/** Rooms whose position is kept in memory at most. */
export const MAX_POSITIONS = 100_000;

interface RoomStream extends StreamPosition {
  touchedAt: number;
}

/**
 * Single-instance broker: every subscriber is local, so publishing is delivering, synchronously
 * and in call order. Each room's position lives in memory: a restart starts every room in a new
 * epoch. Memory is bounded: positions of rooms without publications for POSITION_TTL_MS are
 * dropped, and past MAX_POSITIONS rooms the least recently published one is (its next
 * publication starts a new epoch, which is what a client expects after losing track).
 */
@Injectable()
export class InMemoryRoomBroker implements RoomBroker, OnModuleDestroy {
  /** Insertion order is publication recency: a published room is moved to the end. */
  private readonly streams = new Map<string, RoomStream>();
  private readonly refs = new Map<string, number>();
  private readonly handlers: PublicationHandler[] = [];
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweep = setInterval(() => this.forgetIdle(), 60_000);
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
    const position = { offset: stream.offset, epoch: stream.epoch };
    if (this.refs.has(roomId)) {
      const publication = { roomId, ...position, data };
      for (const handler of this.handlers) handler(publication);
    }
    return Promise.resolve(position);
  }

  history(roomId: string, _options: HistoryOptions): Promise<HistoryResult> {
    const { offset, epoch } = this.stream(roomId);
    return Promise.resolve({ publications: [], position: { offset, epoch } });
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

  /** Rooms whose position is kept. */
  get streamCount(): number {
    return this.streams.size;
  }

  private stream(roomId: string): RoomStream {
    let stream = this.streams.get(roomId);
    if (!stream) {
      stream = { offset: 0, epoch: newEpoch(), touchedAt: this.now() };
      this.streams.set(roomId, stream);
      if (this.streams.size > MAX_POSITIONS) {
        const oldest = this.streams.keys().next().value;
        if (oldest !== undefined) this.streams.delete(oldest);
      }
    }
    return stream;
  }

  private forgetIdle(): void {
    const cutoff = this.now() - POSITION_TTL_MS;
    for (const [roomId, stream] of this.streams) {
      if (stream.touchedAt > cutoff) break;
      this.streams.delete(roomId);
    }
  }
}
