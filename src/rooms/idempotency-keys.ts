import type { StreamPosition } from './publication';

/** Keys kept at most per room: a room publishing faster than this per window loses the oldest. */
export const IDEMPOTENCY_MAX_KEYS_PER_ROOM = 10_000;

/**
 * Keys kept at most, all rooms together: about 25 MB with UUID keys, 80 MB at worst with the
 * longest (a namespace, a user id and a key of 128 characters each), whatever the traffic.
 */
export const IDEMPOTENCY_MAX_KEYS = 100_000;

export interface IdempotencyBounds {
  /** How long a key is remembered (IDEMPOTENCY_WINDOW_MS); 0 remembers nothing. */
  windowMs: number;
  maxPerRoom: number;
  maxTotal: number;
}

interface Remembered extends StreamPosition {
  roomId: string;
  key: string;
  expiresAt: number;
}

/**
 * The in-memory broker's idempotency keys: key → first position, per room, for the window. Every
 * key lives as long (the window), so insertion order is expiry order: one set in insertion order
 * for all rooms gives the oldest (to expire, or to drop past `maxTotal`) at its front, and one per
 * room gives a room's oldest (to drop past `maxPerRoom`). Expired keys go when a key is
 * remembered or looked up, so no timer is needed; the bounds hold at every step.
 */
export class IdempotencyKeys {
  /** Every key, oldest first. */
  private readonly all = new Set<Remembered>();
  private readonly rooms = new Map<string, Map<string, Remembered>>();

  constructor(
    private readonly bounds: IdempotencyBounds,
    private readonly now: () => number = Date.now,
  ) {}

  /** The position the key was first published at in the room, within the window. */
  get(roomId: string, key: string): StreamPosition | undefined {
    this.expire();
    const found = this.rooms.get(roomId)?.get(key);
    return found && { offset: found.offset, epoch: found.epoch };
  }

  /** Remembers the key's position in the room (a key remembered again replaces the first). */
  remember(roomId: string, key: string, position: StreamPosition): void {
    if (this.bounds.windowMs <= 0) return;
    this.expire();
    // Dropped first: dropping a room's last key forgets the room's map.
    this.drop(this.rooms.get(roomId)?.get(key));
    let room = this.rooms.get(roomId);
    if (!room) this.rooms.set(roomId, (room = new Map<string, Remembered>()));
    const entry = { roomId, key, ...position, expiresAt: this.now() + this.bounds.windowMs };
    room.set(key, entry);
    this.all.add(entry);
    if (room.size > this.bounds.maxPerRoom) this.drop(room.values().next().value);
    if (this.all.size > this.bounds.maxTotal) this.drop(this.all.values().next().value);
  }

  /** Keys kept, all rooms together. */
  get size(): number {
    return this.all.size;
  }

  /** Keys kept for one room. */
  sizeOf(roomId: string): number {
    return this.rooms.get(roomId)?.size ?? 0;
  }

  /** Forgets the keys whose window has passed (also done by every `get` and `remember`). */
  expire(): void {
    const now = this.now();
    for (const entry of this.all) {
      if (entry.expiresAt > now) break;
      this.drop(entry);
    }
  }

  private drop(entry: Remembered | undefined): void {
    if (!entry) return;
    this.all.delete(entry);
    const room = this.rooms.get(entry.roomId);
    room?.delete(entry.key);
    if (room?.size === 0) this.rooms.delete(entry.roomId);
  }
}
