import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { frames } from '../protocol/chat.protocol';
import { RoomBroker } from './room-broker';
import { RoomStore } from './room-store';
import type { Publication } from './publication';

/** A local connection as the hub sees it: who it belongs to and how to write to it. */
export interface RoomMember {
  readonly userId: string | undefined;
  /** Writes an already serialized frame (a Buffer goes as text); never throws, never blocks. */
  send(payload: string | Buffer): void;
}

/** One room as this instance holds it. */
interface LocalRoom {
  readonly members: Set<RoomMember>;
  /**
   * Users in the room, cluster-wide: read from the store when the room gets its first local
   * member and again after each diff, moved by the join/leave publications in between.
   */
  count: number;
  /** Joins (true) and leaves (false) since the last presence_diff, netted per user. */
  pending: Map<string, boolean> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** A diff is waiting for the room's count: the next one is scheduled once it is sent. */
  flushing: boolean;
}

/**
 * The connections of this instance per room, and the broker's consumer that writes a room's
 * publications to them: the one place a publication becomes a client frame.
 *
 * Joins and leaves of a room with more than JOIN_LEAVE_MAX_MEMBERS users are not rendered one
 * by one (building a room of n users would send n² frames): they collect, netted per user, into
 * one `presence_diff` per PRESENCE_DIFF_INTERVAL_MS, rendered once and sent to every local member.
 * The publications themselves stay in the room's stream as they are; only delivery aggregates.
 */
@Injectable()
export class RoomHub implements OnModuleDestroy {
  private readonly logger = new Logger(RoomHub.name);
  private readonly rooms = new Map<string, LocalRoom>();

  constructor(
    @Inject(RoomBroker) broker: RoomBroker,
    @Inject(RoomStore) private readonly store: RoomStore,
    private readonly config: AppConfig,
  ) {
    broker.onPublication((publication) => this.deliver(publication));
  }

  onModuleDestroy(): void {
    for (const room of this.rooms.values()) clearTimeout(room.timer);
  }

  add(roomId: string, member: RoomMember): void {
    const room = this.rooms.get(roomId);
    if (room) {
      room.members.add(member);
      return;
    }
    const created: LocalRoom = {
      members: new Set([member]),
      count: 1,
      pending: undefined,
      timer: undefined,
      flushing: false,
    };
    this.rooms.set(roomId, created);
    this.readCount(roomId, created);
  }

  /** Removes the member; a room without local members is forgotten (with its pending diff). */
  remove(roomId: string, member: RoomMember): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    room.members.delete(member);
    if (room.members.size > 0) return;
    clearTimeout(room.timer);
    this.rooms.delete(roomId);
  }

  /**
   * Writes one publication to every local member of its room: serialized and UTF-8 encoded once
   * for all of them. A user is not told that they joined.
   */
  deliver({ roomId, data }: Publication): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    switch (data.kind) {
      case 'frame':
        return this.broadcast(room, data.frame);
      case 'join':
        room.count += 1;
        if (this.aggregates(room, room.count)) return this.collect(roomId, room, data.userId, true);
        return this.broadcast(
          room,
          JSON.stringify(frames.userJoined(data.userId, roomId)),
          data.userId,
        );
      case 'leave':
        room.count = Math.max(0, room.count - 1);
        if (this.aggregates(room, room.count + 1)) {
          return this.collect(roomId, room, data.userId, false);
        }
        return this.broadcast(room, JSON.stringify(frames.userLeft(data.userId, roomId)));
    }
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** Total of local room memberships. */
  get memberCount(): number {
    let count = 0;
    for (const room of this.rooms.values()) count += room.members.size;
    return count;
  }

  /** A room larger than the limit (before a leave, after a join), or one with a diff under way
   * (so that one user's join and leave never go out of order, one in a diff and one alone). */
  private aggregates(room: LocalRoom, size: number): boolean {
    return room.pending !== undefined || size > this.config.JOIN_LEAVE_MAX_MEMBERS;
  }

  private collect(roomId: string, room: LocalRoom, userId: string, joined: boolean): void {
    if (!room.pending) {
      room.pending = new Map();
      if (!room.flushing) this.schedule(roomId, room);
    }
    // A join and a leave of one user within the interval cancel out.
    if (room.pending.get(userId) === !joined) room.pending.delete(userId);
    else room.pending.set(userId, joined);
  }

  private schedule(roomId: string, room: LocalRoom): void {
    room.timer = setTimeout(() => this.flush(roomId, room), this.config.PRESENCE_DIFF_INTERVAL_MS);
  }

  /**
   * Sends the room's diff (none when everything cancelled out) with the room's count read from
   * the store after the interval, so the last diff of a burst carries the count as it settled;
   * changes that arrive meanwhile wait for the next diff, scheduled once this one is sent.
   */
  private flush(roomId: string, room: LocalRoom): void {
    const pending = room.pending ?? new Map<string, boolean>();
    room.pending = undefined;
    room.timer = undefined;
    room.flushing = true;
    const send = (count: number): void => {
      room.flushing = false;
      if (this.rooms.get(roomId) !== room) return;
      room.count = count;
      const joined: string[] = [];
      const left: string[] = [];
      for (const [userId, join] of pending) (join ? joined : left).push(userId);
      if (joined.length + left.length > 0) {
        this.broadcast(room, JSON.stringify(frames.presenceDiff(roomId, joined, left, count)));
      }
      if (room.pending && !room.timer) this.schedule(roomId, room);
    };
    this.store.count(roomId).then(send, (error: unknown) => {
      this.logger.debug(`Reading the size of ${roomId} failed: ${(error as Error).message}`);
      send(room.count);
    });
  }

  /** Corrects the room's count from the store (one O(1) read); a failed read keeps the estimate. */
  private readCount(roomId: string, room: LocalRoom): void {
    this.store.count(roomId).then(
      (count) => {
        if (this.rooms.get(roomId) === room) room.count = count;
      },
      (error: unknown) =>
        this.logger.debug(`Reading the size of ${roomId} failed: ${(error as Error).message}`),
    );
  }

  private broadcast(room: LocalRoom, payload: string, except?: string): void {
    // Encoded once: ws would otherwise encode the string again for every receiver.
    const encoded = room.members.size > 1 ? Buffer.from(payload) : payload;
    for (const member of room.members) {
      if (except === undefined || member.userId !== except) member.send(encoded);
    }
  }
}
