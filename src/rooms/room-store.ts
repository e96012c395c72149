import type { UserJoinedFrame, UserLeftFrame } from '../protocol/chat.protocol';

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

export interface AddResult {
  /** True when this is the user's first connection in the room: others must see `user_joined`. */
  firstOfUser: boolean;
}

export interface RemoveResult {
  /** True when the user's last connection left the room: others must see `user_left`. */
  lastOfUser: boolean;
  /** True when the room has no member left and has been deleted. */
  roomDeleted: boolean;
}

/**
 * Who is in which room: the authoritative membership, per instance (in memory) or cluster-wide
 * (Redis). Rooms exist while they have members: created by the first `add`, deleted by the `remove`
 * of the last member. A store announces membership changes itself (through the RoomBroker it is
 * paired with), so that the announcements of a room are ordered like the changes, cluster-wide.
 */
export interface RoomStore {
  /** Adds a connection of a user to a room; when the user is new in the room, `announce` is
   * delivered to the room's other users. Idempotent: adding the same connection again is a no-op
   * that reports `firstOfUser: false`. */
  add(roomId: string, member: RoomMemberRef, announce?: UserJoinedFrame): Promise<AddResult>;

  /** Removes a connection from a room; when it was the user's last, `announce` is delivered to
   * the room's remaining members. Idempotent: removing an absent connection (or one under another
   * user's name) reports `lastOfUser: false` and changes nothing. */
  remove(roomId: string, member: RoomMemberRef, announce?: UserLeftFrame): Promise<RemoveResult>;

  /** The users present in a room, each once, ordered by `since`; empty for an unknown room. */
  members(roomId: string): Promise<RoomPresence[]>;

  /** Number of rooms that currently have at least one member. */
  roomCount(): Promise<number>;

  /**
   * `listener` hears of users the store removed on its own (the instance holding their
   * connections died and its membership expired), after the store announced their `user_left`.
   * Each user is reported once per room, when their last connection there is gone. The in-memory
   * store never expires anyone.
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
