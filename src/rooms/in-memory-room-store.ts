import { Injectable } from '@nestjs/common';
import type { RoomBroker } from './room-broker';
import type { AddResult, RemoveResult, RoomMemberRef, RoomMembers } from './room-store';
import { RoomStore } from './room-store';

interface UserEntry {
  connections: Set<string>;
  since: Date;
}

/**
 * The single-instance RoomStore. Maps only: a room or user named `__proto__` is just a key.
 * Announcements are published on `broker` right after the change, in the same synchronous step
 * (one process: nothing can come between). A room's users map keeps arrival order (a user who
 * leaves and comes back is inserted again, last), so `members` reads only the first `limit`.
 */
@Injectable()
export class InMemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Map<string, UserEntry>>();

  constructor(private readonly broker?: RoomBroker) {}

  async add(roomId: string, member: RoomMemberRef): Promise<AddResult> {
    const result = this.addMember(roomId, member);
    const announced = result.firstOfUser
      ? this.broker?.publish(roomId, { kind: 'join', userId: member.userId })
      : undefined;
    await announced;
    return result;
  }

  async remove(roomId: string, member: RoomMemberRef): Promise<RemoveResult> {
    const result = this.removeMember(roomId, member);
    const announced = result.lastOfUser
      ? this.broker?.publish(roomId, { kind: 'leave', userId: member.userId })
      : undefined;
    await announced;
    return result;
  }

  private addMember(roomId: string, { userId, connectionId }: RoomMemberRef): AddResult {
    let users = this.rooms.get(roomId);
    if (!users) {
      users = new Map();
      this.rooms.set(roomId, users);
    }
    const entry = users.get(userId);
    if (entry) {
      entry.connections.add(connectionId);
      return { firstOfUser: false };
    }
    users.set(userId, { connections: new Set([connectionId]), since: new Date() });
    return { firstOfUser: true };
  }

  private removeMember(roomId: string, { userId, connectionId }: RoomMemberRef): RemoveResult {
    const users = this.rooms.get(roomId);
    const entry = users?.get(userId);
    if (!users || !entry || !entry.connections.delete(connectionId)) {
      return { lastOfUser: false, roomDeleted: false };
    }
    const lastOfUser = entry.connections.size === 0;
    if (lastOfUser) users.delete(userId);
    const roomDeleted = users.size === 0;
    if (roomDeleted) this.rooms.delete(roomId);
    return { lastOfUser, roomDeleted };
  }

  members(roomId: string, limit: number): Promise<RoomMembers> {
    const users = this.rooms.get(roomId) ?? new Map<string, UserEntry>();
    const first: RoomMembers['users'] = [];
    for (const [userId, entry] of users) {
      if (first.length >= limit) break;
      first.push({ userId, connections: entry.connections.size, since: entry.since });
    }
    return Promise.resolve({ users: first, count: users.size });
  }

  count(roomId: string): Promise<number> {
    return Promise.resolve(this.rooms.get(roomId)?.size ?? 0);
  }

  roomCount(): Promise<number> {
    return Promise.resolve(this.rooms.size);
  }

  /** One process: its members go when it goes, nothing can expire. */
  onExpired(): void {}
}
