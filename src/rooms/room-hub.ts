import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { frames, withPosition } from '../protocol/chat.protocol';
import { RoomBroker } from './room-broker';
import { RoomStore } from './room-store';
import type { Publication, StreamPosition } from './publication';

/**
 * Publications one held member may collect; past it, or past half of MAX_BUFFERED_BYTES of them
 * (what a paced replay leaves room for), the member is closed as too slow.
 */
export const HOLD_MAX_PUBLICATIONS = 10_000;

/** A local connection as the hub sees it: who it belongs to and how to write to it. */
export interface RoomMember {
  readonly userId: string | undefined;
  /** Writes an already serialized frame (a Buffer goes as text); never throws, never blocks. */
  send(payload: string | Buffer): void;
  /** Closes the member's connection as a consumer that cannot keep up. */
  overflow(): void;
}

/** True when `position` comes after `floor`: a later offset, another epoch, or unpositioned. */
function after(position: StreamPosition, floor: StreamPosition): boolean {
  return position.epoch !== floor.epoch || position.offset > floor.offset;
}

/** What a held member was sent meanwhile: rendered frames with the position of each. */
interface HeldFrame {
  position: StreamPosition;
  payload: string | Buffer;
}

/** A held member's frames and their bytes. */
interface Held {
  frames: HeldFrame[];
  bytes: number;
}

/** One room as this instance holds it. */
interface LocalRoom {
  readonly members: Set<RoomMember>;
  /**
   * Members whose live frames wait until the join that holds them has read the room's position
   * (and replayed what they missed): then those after the position are sent, in order.
   */
  held: Map<RoomMember, Held> | undefined;
  /**
   * Released members and the position they were released at, until a later publication reaches
   * them: with Redis the position is read on another connection than the one publications
   * arrive on, so a publication up to it (replayed already) may still come after the release.
   */
  floors: Map<RoomMember, StreamPosition> | undefined;
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
  /** Start (epoch ms) of the interval whose joins and leaves `changes` counts. */
  windowStart: number;
  changes: number;
  /** The room is in a burst of joins and leaves until then (epoch ms): they go as diffs. */
  burstUntil: number;
}

/**
 * The connections of this instance per room, and the broker's consumer that writes a room's
 * publications to them: the one place a publication becomes a client frame.
 *
 * Joins and leaves of a room with more than JOIN_LEAVE_MAX_MEMBERS users, or of a room in a burst
 * of them (more than JOIN_LEAVE_BURST within PRESENCE_DIFF_INTERVAL_MS), are not rendered one by
 * one (building a room of n users would send n² frames): they collect, netted per user, into one
 * `presence_diff` per PRESENCE_DIFF_INTERVAL_MS, rendered once and sent to every local member.
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

  /** Bytes one held member may collect. */
  private get maxHeldBytes(): number {
    return this.config.MAX_BUFFERED_BYTES / 2;
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
      held: undefined,
      floors: undefined,
      count: 1,
      pending: undefined,
      timer: undefined,
      flushing: false,
      windowStart: 0,
      changes: 0,
      burstUntil: 0,
    };
    this.rooms.set(roomId, created);
    this.readCount(roomId, created);
  }

  /**
   * From now on the member's frames of the room wait (a join reading the room's position and
   * replaying what the member missed) until `release`. The member must have been added.
   */
  hold(roomId: string, member: RoomMember): void {
    const room = this.rooms.get(roomId);
    if (!room?.members.has(member)) return;
    (room.held ??= new Map()).set(member, { frames: [], bytes: 0 });
  }

  /**
   * Ends the hold: sends what the member was held from that comes after `position` (the position
   * the join read, so everything up to it was replayed or deliberately not), then goes live. A
   * frame of another epoch (the stream started over) or unpositioned (degraded) always goes.
   */
  release(roomId: string, member: RoomMember, position: StreamPosition): void {
    const room = this.rooms.get(roomId);
    const frames = room?.held?.get(member)?.frames;
    if (!room || !frames) return;
    room.held?.delete(member);
    if (room.held?.size === 0) room.held = undefined;
    let passed = false;
    for (const frame of frames) {
      if (!after(frame.position, position)) continue;
      passed ||= frame.position.epoch !== '';
      member.send(frame.payload);
    }
    if (!passed && position.epoch !== '') (room.floors ??= new Map()).set(member, position);
  }

  /**
   * The frame a member gets for a publication, serialized with its position; undefined for the
   * member's own join or leave (a user is not told that they joined). Used for replays too.
   */
  render(publication: Publication, recipient?: string): string | undefined {
    const { data, roomId } = publication;
    switch (data.kind) {
      case 'frame':
        return this.position(data.frame, publication);
      case 'join':
        if (data.userId === recipient) return undefined;
        return this.position(
          JSON.stringify(frames.userJoined(data.userId, roomId, dateOf(data.at))),
          publication,
        );
      case 'leave':
        if (data.userId === recipient) return undefined;
        return this.position(
          JSON.stringify(frames.userLeft(data.userId, roomId, dateOf(data.at))),
          publication,
        );
    }
  }

  /** Removes the member; a room without local members is forgotten (with its pending diff). */
  remove(roomId: string, member: RoomMember): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    room.members.delete(member);
    room.held?.delete(member);
    room.floors?.delete(member);
    if (room.members.size > 0) return;
    clearTimeout(room.timer);
    this.rooms.delete(roomId);
  }

  /**
   * Writes one publication to every local member of its room: serialized and UTF-8 encoded once
   * for all of them. A user is not told that they joined.
   */
  deliver(publication: Publication): void {
    const { roomId, data } = publication;
    const room = this.rooms.get(roomId);
    if (!room) return;
    switch (data.kind) {
      case 'frame':
        break;
      case 'join':
        room.count += 1;
        if (this.aggregates(room, room.count)) return this.collect(roomId, room, data.userId, true);
        break;
      case 'leave':
        room.count = Math.max(0, room.count - 1);
        if (this.aggregates(room, room.count + 1)) {
          return this.collect(roomId, room, data.userId, false);
        }
        break;
    }
    const payload = this.render(publication);
    if (payload === undefined) return;
    const except = data.kind === 'join' ? data.userId : undefined;
    this.broadcast(room, payload, except, publication);
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

  /** A room larger than the limit (before a leave, after a join), one in a burst of joins and
   * leaves, or one with a diff under way (so that one user's join and leave never go out of
   * order, one in a diff and one alone). */
  private aggregates(room: LocalRoom, size: number): boolean {
    const burst = this.inBurst(room, Date.now());
    return burst || room.pending !== undefined || size > this.config.JOIN_LEAVE_MAX_MEMBERS;
  }

  /**
   * Counts one join or leave; true while the room is in a burst: from the change past
   * JOIN_LEAVE_BURST within one PRESENCE_DIFF_INTERVAL_MS until an interval passes without any.
   * A follow storm (many connections entering the same rooms) thus costs each member at most
   * JOIN_LEAVE_BURST frames and then one diff per interval per room, not one frame per joiner.
   */
  private inBurst(room: LocalRoom, now: number): boolean {
    const interval = this.config.PRESENCE_DIFF_INTERVAL_MS;
    if (now < room.burstUntil) {
      room.burstUntil = now + interval;
      return true;
    }
    if (now - room.windowStart >= interval) {
      room.windowStart = now;
      room.changes = 0;
    }
    room.changes += 1;
    if (room.changes <= this.config.JOIN_LEAVE_BURST) return false;
    room.burstUntil = now + interval;
    return true;
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
      // Each list names at most PRESENCE_DIFF_MAX_USERS users: a burst of hundreds would
      // otherwise send hundreds of names to each of hundreds of members.
      const max = this.config.PRESENCE_DIFF_MAX_USERS;
      const joined: string[] = [];
      const left: string[] = [];
      let truncated = false;
      for (const [userId, join] of pending) {
        const list = join ? joined : left;
        if (list.length < max) list.push(userId);
        else truncated = true;
      }
      if (joined.length + left.length > 0) {
        const diff = frames.presenceDiff(roomId, joined, left, count, truncated);
        this.broadcast(room, JSON.stringify(diff));
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

  /** Splices the publication's position into its frame; a degraded one (never in the stream)
   * goes without. */
  private position(frame: string, position: StreamPosition): string {
    return position.epoch === '' ? frame : withPosition(frame, position);
  }

  /**
   * Sends `payload` to the room's members (but the user `except`); a held member collects it
   * with the publication's position instead. A frame that is no publication (a presence_diff)
   * skips held members: what they missed is theirs to ask for.
   */
  private broadcast(
    room: LocalRoom,
    payload: string,
    except?: string,
    position?: StreamPosition,
  ): void {
    // Encoded once: ws would otherwise encode the string again for every receiver.
    const encoded = room.members.size > 1 ? Buffer.from(payload) : payload;
    for (const member of room.members) {
      if (except !== undefined && member.userId === except) continue;
      const held = room.held?.get(member);
      if (held !== undefined) {
        if (position) this.collectHeld(member, held, { position, payload: encoded });
        continue;
      }
      const floor = room.floors?.get(member);
      if (floor !== undefined && position) {
        if (!after(position, floor)) continue;
        if (position.epoch !== '') this.lift(room, member);
      }
      member.send(encoded);
    }
  }

  private lift(room: LocalRoom, member: RoomMember): void {
    room.floors?.delete(member);
    if (room.floors?.size === 0) room.floors = undefined;
  }

  private collectHeld(member: RoomMember, held: Held, frame: HeldFrame): void {
    held.bytes += Buffer.byteLength(frame.payload);
    if (held.frames.length >= HOLD_MAX_PUBLICATIONS || held.bytes > this.maxHeldBytes) {
      return member.overflow();
    }
    held.frames.push(frame);
  }
}

/** The time a membership publication carries, as a Date (undefined when it carries none). */
function dateOf(at: number | undefined): Date | undefined {
  return at === undefined ? undefined : new Date(at);
}
