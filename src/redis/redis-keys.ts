/** The parts of a room's keys (layout in lua/library.lua). */
type RoomPart = 'meta' | 'ch' | 'hist' | 'conns' | 'members' | 'order' | 'leases';

/**
 * Names of the Redis keys and channels (the layout is documented in lua/library.lua, whose
 * functions derive the same names). Every name is `P{X}:part`: X is a room id or starts with `#`,
 * and neither ids nor the prefix contain braces, so no two (prefix, id) pairs share a name (the
 * prefixes `chat:` and `chat:room:x:` cannot collide) and one room's keys share a Cluster slot.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  room(roomId: string, part: RoomPart): string {
    return `${this.prefix}{${roomId}}:${part}`;
  }

  /** The record of an idempotency key in a room: in the room's hash slot (the id has the braces). */
  idempotency(roomId: string, key: string): string {
    return `${this.prefix}{${roomId}}:idem:${key}`;
  }

  /** One instance's entries in a room ("<connection>\n<user>"), in the room's hash slot. */
  roomInstance(roomId: string, instanceId: string): string {
    return `${this.prefix}{${roomId}}:i:${instanceId}`;
  }

  /** The KEYS of every membership script, in their order (membership_keys in lua/library.lua):
   * one room's membership, and the set of one instance's entries in it. */
  membership(roomId: string, instanceId: string): string[] {
    return [
      this.room(roomId, 'conns'),
      this.room(roomId, 'members'),
      this.room(roomId, 'order'),
      this.room(roomId, 'leases'),
      this.room(roomId, 'meta'),
      this.room(roomId, 'ch'),
      this.room(roomId, 'hist'),
      this.roomInstance(roomId, instanceId),
    ];
  }

  /** A user's connections counted for MAX_CONNECTIONS_PER_USER ("<instance>\n<connection>"). */
  userConnections(userId: string): string {
    return `${this.prefix}{#u:${userId}}:conns`;
  }

  /** Present (with a TTL) while the instance lives: its per-user counts count only then. */
  instanceAlive(instanceId: string): string {
    return `${this.prefix}{#i:${instanceId}}:alive`;
  }

  /** The room a channel name belongs to, or undefined for a channel not of this layout. */
  roomOfChannel(channel: string): string | undefined {
    const open = this.prefix.length;
    if (!channel.startsWith(this.prefix) || channel[open] !== '{' || !channel.endsWith('}:ch')) {
      return undefined;
    }
    const roomId = channel.slice(open + 1, -'}:ch'.length);
    return roomId.startsWith('#') ? undefined : roomId;
  }
}
