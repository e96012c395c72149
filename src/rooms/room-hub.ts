import { Inject, Injectable } from '@nestjs/common';
import { frames } from '../protocol/chat.protocol';
import { RoomBroker } from './room-broker';
import type { Publication } from './publication';

/** A local connection as the hub sees it: who it belongs to and how to write to it. */
export interface RoomMember {
  readonly userId: string | undefined;
  /** Writes an already serialized frame (a Buffer goes as text); never throws, never blocks. */
  send(payload: string | Buffer): void;
}

/**
 * The connections of this instance per room, and the broker's consumer that writes a room's
 * publications to them: the one place a publication becomes a client frame.
 */
@Injectable()
export class RoomHub {
  private readonly rooms = new Map<string, Set<RoomMember>>();

  constructor(@Inject(RoomBroker) broker: RoomBroker) {
    broker.onPublication((publication) => this.deliver(publication));
  }

  add(roomId: string, member: RoomMember): void {
    const members = this.rooms.get(roomId);
    if (members) members.add(member);
    else this.rooms.set(roomId, new Set([member]));
  }

  /** Removes the member; a room without local members is forgotten. */
  remove(roomId: string, member: RoomMember): void {
    const members = this.rooms.get(roomId);
    if (!members) return;
    members.delete(member);
    if (members.size === 0) this.rooms.delete(roomId);
  }

  /**
   * Writes one publication to every local member of its room: serialized and UTF-8 encoded once
   * for all of them. A user is not told that they joined.
   */
  deliver({ roomId, data }: Publication): void {
    const members = this.rooms.get(roomId);
    if (!members) return;
    let payload: string;
    let except: string | undefined;
    switch (data.kind) {
      case 'frame':
        payload = data.frame;
        break;
      case 'join':
        payload = JSON.stringify(frames.userJoined(data.userId, roomId));
        except = data.userId;
        break;
      case 'leave':
        payload = JSON.stringify(frames.userLeft(data.userId, roomId));
        break;
    }
    // Encoded once: ws would otherwise encode the string again for every receiver.
    const encoded = members.size > 1 ? Buffer.from(payload) : payload;
    for (const member of members) {
      if (except === undefined || member.userId !== except) member.send(encoded);
    }
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** Total of local room memberships. */
  get memberCount(): number {
    let count = 0;
    for (const members of this.rooms.values()) count += members.size;
    return count;
  }
}
