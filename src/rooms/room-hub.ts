import { Injectable } from '@nestjs/common';
import type { Connection } from '../transport/connection';

/** The connections of this instance per room: where a broker's frames are written to sockets. */
@Injectable()
export class RoomHub {
  private readonly rooms = new Map<string, Set<Connection>>();

  add(roomId: string, connection: Connection): void {
    const members = this.rooms.get(roomId);
    if (members) members.add(connection);
    else this.rooms.set(roomId, new Set([connection]));
  }

  /** Removes the connection; a room without local connections is forgotten. */
  remove(roomId: string, connection: Connection): void {
    const members = this.rooms.get(roomId);
    if (!members) return;
    members.delete(connection);
    if (members.size === 0) this.rooms.delete(roomId);
  }

  /** Writes one serialized frame to every local connection of the room but those of `exceptUserId`. */
  deliver(roomId: string, payload: string, exceptUserId?: string): void {
    const members = this.rooms.get(roomId);
    if (!members) return;
    // Encoded once: ws would otherwise encode the string again for every receiver.
    const data = members.size > 1 ? Buffer.from(payload) : payload;
    for (const connection of members) {
      if (connection.userId !== exceptUserId) connection.send(data);
    }
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** Total of local room memberships (a connection is in at most one room). */
  get memberCount(): number {
    let count = 0;
    for (const members of this.rooms.values()) count += members.size;
    return count;
  }
}
