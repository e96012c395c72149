import { Injectable } from '@nestjs/common';
import type { UserJoinedFrame, UserLeftFrame } from '../protocol/chat.protocol';
import type { RoomBroker } from './room-broker';
import { AddResult, RemoveResult, RoomMemberRef, RoomPresence, RoomStore } from './room-store';

interface UserEntry {
  connections: Set<string>;
  since: Date;
}

/**
 * The single-instance RoomStore. Maps only: a room or user named `__proto__` is just a key.
 * Announcements go to `broker` (none without one: a silent mirror).
 */
@Injectable()
export class InMemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Map<string, UserEntry>>();

  constructor(private readonly broker?: RoomBroker) {}

  async add(roomId: string, member: RoomMemberRef, announce?: UserJoinedFrame): Promise<AddResult> {
    const result = this.addMember(roomId, member);
    if (result.firstOfUser && announce) await this.broker?.publish(roomId, announce, member.userId);
    return result;
  }

  async remove(
    roomId: string,
    member: RoomMemberRef,
    announce?: UserLeftFrame,
  ): Promise<RemoveResult> {
    const result = this.removeMember(roomId, member);
    if (result.lastOfUser && announce) await this.broker?.publish(roomId, announce);
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
