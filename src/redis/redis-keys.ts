/**
 * Names of the Redis keys and channels (the layout is documented in lua/library.lua, whose
 * functions derive the same names). Every name is `P{X}:part`: X is a room id or starts with `#`,
 * and neither ids nor the prefix contain braces, so no two (prefix, id) pairs share a name (the
 * prefixes `chat:` and `chat:room:x:` cannot collide) and one room's keys share a Cluster slot.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  room(roomId: string, part: 'meta' | 'ch' | 'hist' | 'conns' | 'members'): string {
    return `${this.prefix}{${roomId}}:${part}`;
  }

  /** The record of an idempotency key in a room: in the room's hash slot (the id has the braces). */
  idempotency(roomId: string, key: string): string {
    return `${this.prefix}{${roomId}}:idem:${key}`;
  }

  global(part: 'rooms' | 'instances'): string {
    return `${this.prefix}{#}:${part}`;
  }

  instance(instanceId: string, part: 'conns' | 'reaped' | 'lost'): string {
    return `${this.prefix}{#i:${instanceId}}:${part}`;
  }

  /** The KEYS of add.lua and remove.lua, in their order: one room's membership, seen from one
   * instance. */
  membership(roomId: string, instanceId: string): string[] {
    return [
      this.room(roomId, 'conns'),
      this.room(roomId, 'members'),
      this.room(roomId, 'meta'),
      this.room(roomId, 'ch'),
      this.global('rooms'),
      this.instance(instanceId, 'conns'),
      this.room(roomId, 'hist'),
    ];
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
