import type { RoomMemberRef, RoomMembers } from '../rooms/room-store';

/** This instance's connections in one room. */
export interface HeldRoom {
  /** connection -> user. */
  connections: Map<string, string>;
  /** user -> connections here and when the first of them arrived; insertion order is `since`. */
  users: Map<string, { connections: number; since: Date }>;
  /** Connections whose add never reached Redis (made while it was away): announced by a resync
   * even when Redis lost the rest. */
  unsent: Set<string>;
  /** Changes of the room sent to Redis and not answered yet: counts compare only without. */
  inFlight: number;
}

/**
 * The connections this instance holds, per room: what it refreshes in Redis, resyncs after an
 * outage, and answers from (its own view only) while Redis is away.
 */
export class HeldRooms {
  private readonly rooms = new Map<string, HeldRoom>();

  get(roomId: string): HeldRoom | undefined {
    return this.rooms.get(roomId);
  }

  roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** Adds a connection; returns the room and how many connections it held before. */
  add(roomId: string, { userId, connectionId }: RoomMemberRef): { room: HeldRoom; before: number } {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { connections: new Map(), users: new Map(), unsent: new Set(), inFlight: 0 };
      this.rooms.set(roomId, room);
    }
    const before = room.connections.size;
    if (room.connections.has(connectionId)) return { room, before };
    room.connections.set(connectionId, userId);
    const user = room.users.get(userId);
    if (user) user.connections += 1;
    else room.users.set(userId, { connections: 1, since: new Date() });
    return { room, before };
  }

  /** Removes a connection; false when it was not held under that user. */
  remove(roomId: string, { userId, connectionId }: RoomMemberRef): boolean {
    const room = this.rooms.get(roomId);
    if (!room || room.connections.get(connectionId) !== userId) return false;
    room.connections.delete(connectionId);
    room.unsent.delete(connectionId);
    const user = room.users.get(userId);
    if (user && --user.connections === 0) room.users.delete(userId);
    if (room.connections.size === 0 && room.inFlight === 0) this.rooms.delete(roomId);
    return true;
  }

  /** Forgets a room emptied while changes were in flight, once they are answered. */
  settle(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (room && room.connections.size === 0 && room.inFlight === 0) this.rooms.delete(roomId);
  }

  holdsUser(roomId: string, userId: string): boolean {
    return this.rooms.get(roomId)?.users.has(userId) ?? false;
  }

  /** This instance's view of a room: its oldest `limit` users and their number. */
  members(roomId: string, limit: number): RoomMembers {
    const users: RoomMembers['users'] = [];
    const room = this.rooms.get(roomId);
    for (const [userId, { connections, since }] of room?.users ?? []) {
      if (users.length >= limit) break;
      users.push({ userId, connections, since });
    }
    return { users, count: room?.users.size ?? 0 };
  }
}
