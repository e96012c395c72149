import { Injectable } from '@nestjs/common';
import type { Session } from '../transport/session';

/** The sessions of this instance per room: where a broker's frames are written to sockets. */
@Injectable()
export class RoomHub {
  private readonly rooms = new Map<string, Set<Session>>();

  add(roomId: string, session: Session): void {
    const members = this.rooms.get(roomId);
    if (members) members.add(session);
    else this.rooms.set(roomId, new Set([session]));
  }

  /** Removes the session; a room without local sessions is forgotten. */
  remove(roomId: string, session: Session): void {
    const members = this.rooms.get(roomId);
    if (!members) return;
    members.delete(session);
    if (members.size === 0) this.rooms.delete(roomId);
  }

  /** Writes one serialized frame to every local session of the room but those of `exceptUserId`. */
  deliver(roomId: string, payload: string, exceptUserId?: string): void {
    const members = this.rooms.get(roomId);
    if (!members) return;
    // Encoded once: ws would otherwise encode the string again for every receiver.
    const data = members.size > 1 ? Buffer.from(payload) : payload;
    for (const session of members) {
      if (session.userId !== exceptUserId) session.send(data);
    }
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** Total of local room memberships (a session is in at most one room). */
  get memberCount(): number {
    let count = 0;
    for (const members of this.rooms.values()) count += members.size;
    return count;
  }
}
