import { Injectable } from '@nestjs/common';
import { ServerIdentity } from '../lifecycle/server-identity';
import { RoomHub } from '../rooms/room-hub';
import { SessionRegistry } from '../transport/session-registry';

/** Seed 003's health figures, of this instance, at the top level of every health answer. */
export interface ServerFiguresBody {
  /** This process (its consumer name in the bridge's group and its id in Redis). */
  server_id: string;
  /** Open WebSocket connections. */
  connections: number;
  /** Connections whose user is known: a verified token (AUTH_MODE=jwt), or a joined userId. */
  authenticated: number;
  /** Distinct users of those connections. */
  users: number;
  /** Rooms with local members. */
  rooms: number;
}

@Injectable()
export class ServerFigures {
  constructor(
    private readonly identity: ServerIdentity,
    private readonly registry: SessionRegistry,
    private readonly hub: RoomHub,
  ) {}

  /** One pass over the sessions: a health check costs O(connections), not more. */
  now(): ServerFiguresBody {
    const users = new Set<string>();
    let authenticated = 0;
    for (const session of this.registry) {
      const user = session.principal?.userId ?? session.userId;
      if (user === undefined) continue;
      authenticated += 1;
      users.add(user);
    }
    return {
      server_id: this.identity.id,
      connections: this.registry.size,
      authenticated,
      users: users.size,
      rooms: this.hub.roomCount,
    };
  }
}
