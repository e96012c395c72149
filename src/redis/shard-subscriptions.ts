/** A promise that a room's subscription is back, and its resolver. */
interface Gate {
  opened: Promise<void>;
  open: () => void;
}

/**
 * With sharded pub/sub on a Redis Cluster, a room is read from the shard that owns its channel's
 * slot: the shard's failover ends the subscriber connection of its rooms, and a slot moved to
 * another shard unsubscribes its rooms on the old one (Redis 7 sends a `sunsubscribe`). Per room,
 * this remembers the shard that acknowledged its SSUBSCRIBE, which rooms lost their subscription
 * (`stale`: on a lost shard, or owned by another shard than the one subscribed), and holds a gate
 * per lost room until it is subscribed again, so rooms on the other shards never wait.
 */
export class ShardSubscriptions {
  /** Room -> the shard (host:port) whose SSUBSCRIBE acknowledgement it last had. */
  private readonly shardOf = new Map<string, string>();
  private readonly lost = new Map<string, Gate>();

  /** `ownerOf`: the shard that owns a room's channel now, as the subscriber's slot map says. */
  constructor(private readonly ownerOf: (roomId: string) => string | undefined) {}

  /** The room's SSUBSCRIBE was acknowledged (by the shard that owns it now). */
  subscribed(roomId: string): void {
    const owner = this.ownerOf(roomId);
    if (owner !== undefined) this.shardOf.set(roomId, owner);
    else this.shardOf.delete(roomId);
    const gate = this.lost.get(roomId);
    this.lost.delete(roomId);
    gate?.open();
  }

  /** The room is not read any more (its last local subscriber left). */
  removed(roomId: string): void {
    this.shardOf.delete(roomId);
    const gate = this.lost.get(roomId);
    this.lost.delete(roomId);
    gate?.open();
  }

  /** The room's subscription is gone or unknown (its SSUBSCRIBE failed). */
  roomLost(roomId: string): void {
    if (this.lost.has(roomId)) return;
    let open = (): void => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.lost.set(roomId, { opened, open });
  }

  /** The subscriber connection to `shard` ended: every room read from it is lost. */
  shardLost(shard: string): void {
    for (const [roomId, on] of this.shardOf) if (on === shard) this.roomLost(roomId);
  }

  /** Rooms of `rooms` to subscribe again: lost ones, and those another shard owns now. */
  stale(rooms: Iterable<string>): string[] {
    const stale: string[] = [];
    for (const roomId of rooms) {
      if (this.lost.has(roomId)) stale.push(roomId);
      else if (this.shardOf.get(roomId) !== this.ownerOf(roomId)) {
        this.roomLost(roomId);
        stale.push(roomId);
      }
    }
    return stale;
  }

  /** Resolves when the room is subscribed again; undefined when it is. */
  whenSubscribed(roomId: string): Promise<void> | undefined {
    return this.lost.get(roomId)?.opened;
  }

  /** Rooms whose subscription is lost. */
  get lostRooms(): number {
    return this.lost.size;
  }
}
