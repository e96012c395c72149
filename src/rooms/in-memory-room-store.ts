import { Injectable } from '@nestjs/common';
import { AddResult, RemoveResult, RoomMemberRef, RoomPresence, RoomStore } from './room-store';

interface UserEntry {
  connections: Set<string>;
  since: Date;
}

/** The single-instance RoomStore. Maps only: a room or user named `__proto__` is just a key. */
@Injectable()
export class InMemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Map<string, UserEntry>>();

  add(roomId: string, { userId, connectionId }: RoomMemberRef): Promise<AddResult> {
    let users = this.rooms.get(roomId);
    if (!users) {
      users = new Map();
      this.rooms.set(roomId, users);
    }
    const entry = users.get(userId);
    if (entry) {
      entry.connections.add(connectionId);
      return Promise.resolve({ firstOfUser: false });
    }
    users.set(userId, { connections: new Set([connectionId]), since: new Date() });
    return Promise.resolve({ firstOfUser: true });
  }

  remove(roomId: string, { userId, connectionId }: RoomMemberRef): Promise<RemoveResult> {
    const users = this.rooms.get(roomId);
    const entry = users?.get(userId);
    if (!users || !entry || !entry.connections.delete(connectionId)) {
      return Promise.resolve({ lastOfUser: false, roomDeleted: false });
    }
    const lastOfUser = entry.connections.size === 0;
    if (lastOfUser) users.delete(userId);
    const roomDeleted = users.size === 0;
    if (roomDeleted) this.rooms.delete(roomId);
    return Promise.resolve({ lastOfUser, roomDeleted });
  }

  members(roomId: string): Promise<RoomPresence[]> {
    const users = this.rooms.get(roomId) ?? new Map<string, UserEntry>();
    const presence = [...users].map(([userId, entry]) => ({
      userId,
      connections: entry.connections.size,
      since: entry.since,
    }));
    presence.sort((a, b) => a.since.getTime() - b.since.getTime());
    return Promise.resolve(presence);
  }

  roomCount(): Promise<number> {
    return Promise.resolve(this.rooms.size);
  }

  /** One process: its members go when it goes, nothing can expire. */
  onExpired(): void {}
}
