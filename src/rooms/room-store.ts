import type { StreamPosition } from './publication';

/** One connection of one user, as the membership store knows it. */
export interface RoomMemberRef {
  userId: string;
  connectionId: string;
}

/** A user present in a room, however many connections they have there. */
export interface RoomPresence {
  userId: string;
  connections: number;
  /** When the user's first current connection entered the room. */
  since: Date;
}

/** The first users of a room, oldest first, and how many there are in all. */
export interface RoomMembers {
  users: RoomPresence[];
  count: number;
}

export interface AddResult {
  /** True when this is the user's first connection in the room: a `join` was published. */
  firstOfUser: boolean;
  /**
   * The room's position right after the change, read in the same step: where a joiner starts.
   * Absent when the store did not read it (the caller reads it from the broker).
   */
  position?: StreamPosition;
}

export interface RemoveResult {
  /** True when the user's last connection left the room: a `leave` was published. */
  lastOfUser: boolean;
  /** True when the room has no member left and has been deleted. */
  roomDeleted: boolean;
}

/**
 * Who is in which room: the authoritative membership, per instance (in memory) or cluster-wide
 * (Redis). Rooms exist while they have members: created by the first `add`, deleted by the
 * `remove` of the last member.
 *
 * A store announces membership changes itself, as `join` / `leave` publications on the room's
 * positioned stream (the RoomBroker it is paired with), in the same atomic step as the change:
 * so a room's joins, leaves and messages have one order, cluster-wide, whoever made the change
 * (a client, an expiry, a resynchronisation after an outage, a graceful stop).
 */
export interface RoomStore {
  /** Adds a connection of a user to a room; publishes `join` when the user is new in the room.
   * Idempotent: adding the same connection again is a no-op that reports `firstOfUser: false`. */
  add(roomId: string, member: RoomMemberRef): Promise<AddResult>;

  /** Removes a connection from a room; publishes `leave` when it was the user's last.
   * Idempotent: removing an absent connection (or one under another user's name) reports
   * `lastOfUser: false` and changes nothing. */
  remove(roomId: string, member: RoomMemberRef): Promise<RemoveResult>;

  /** The first `limit` users present in a room, each once, ordered by `since`, and the number of
   * users in it (none and 0 for an unknown room). Read atomically: a user is never seen half
   * added. Costs what `limit` costs, however large the room. */
  members(roomId: string, limit: number): Promise<RoomMembers>;

  /** The number of users present in a room (as `members`' count, without reading any); 0 for an
   * unknown room. */
  count(roomId: string): Promise<number>;

  /** Number of rooms that currently have at least one member: all of them in memory; with Redis,
   * the rooms this instance holds members in (no key lists every room of the cluster). */
  roomCount(): Promise<number>;

  /**
   * `listener` hears of users the store removed on its own (the instance holding their
   * connections died and its membership expired), after their `leave` was published. Each user
   * is reported once per room, when their last connection there is gone. The in-memory store
   * never expires anyone.
   */
  onExpired(listener: (left: ExpiredMember[]) => void): void;
}

/** A user whose last connection in a room expired. */
export interface ExpiredMember {
  roomId: string;
  userId: string;
}

/** Injection token of the RoomStore port (same name as the interface, as in @nestjs/throttler). */
export const RoomStore = Symbol('RoomStore');
