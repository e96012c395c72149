import { Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type {
  AddResult,
  ExpiredMember,
  RemoveResult,
  RoomMemberRef,
  RoomMembers,
  RoomStore,
} from '../rooms/room-store';
import { Limiter, eachLimited } from './each-limited';
import { HeldRooms } from './held-rooms';
import { RECONNECT_MAX_DELAY_MS, RedisConnections } from './redis-connections';
import { RedisRoomBroker } from './redis-room-broker';
import { ScriptName, runScript } from './redis-scripts';

/**
 * Entries one script call adds, removes or expires at most, whatever the instance holds. Each may
 * publish a join or leave (an append to the room's stream, trimmed, and a PUBLISH: tens of
 * microseconds): a batch stays within a few milliseconds of Redis time.
 */
export const MEMBERSHIP_BATCH = 50;

/**
 * How long a room's membership keys outlive their last refresh: a room whose holders all died
 * goes then. Longer than any outage the leaves made during it should survive: a connection that
 * leaves while Redis is away is announced only if Redis still holds it when it returns.
 */
const MEMBERSHIP_KEEP_MS = 300_000;

/** Rooms beaten, resynced, expired or left at once: an instance of any size never floods Redis. */
const ROOM_CONCURRENCY = 16;

/**
 * Cluster-wide membership in Redis, kept per room (layout in lua/library.lua): every key a script
 * touches is in the room's hash slot, and no script costs more than a batch of MEMBERSHIP_BATCH
 * entries. Every change is one script that also publishes the resulting `join` / `leave` on the
 * room's positioned stream, so a room's membership events and messages have one order whoever
 * made the change.
 *
 * Each instance holds a lease per room it has connections in, renewed every beat
 * (PRESENCE_TTL_MS / 6; the lease runs PRESENCE_TTL_MS / 2). The beat also tells whether Redis
 * holds as many of its entries as it has connections (else the room is resynced), and names an
 * instance whose lease ran out: its entries are expired in batches, each user's `leave`
 * published once, by whichever instance of the room gets there first. A crashed instance's users
 * thus leave within PRESENCE_TTL_MS.
 *
 * While Redis is away the store answers from this instance's connections (degraded) and shows
 * nobody a change; when Redis returns, each room is resynced (added what is missing, removed what
 * is gone, in batches), which publishes the difference to everyone, this instance's members
 * included.
 */
export class RedisRoomStore implements RoomStore, OnModuleInit {
  private readonly logger = new Logger(RedisRoomStore.name);
  private readonly held = new HeldRooms();
  private readonly expiredListeners: ((left: ExpiredMember[]) => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /**
   * Rooms where Redis may differ from `held`, each with a count of failed changes: a resync
   * clears a room only if no change failed while it ran.
   */
  private readonly dirty = new Map<string, number>();
  /** Rooms where an expiry runs: one at a time per room, ROOM_CONCURRENCY rooms at a time. */
  private readonly expiring = new Set<string>();
  private readonly expiries = new Limiter(ROOM_CONCURRENCY);
  /** The resync under way per room: callers share it instead of racing. */
  private readonly resyncing = new Map<string, Promise<void>>();
  /** Since when the command connection has been up without a break (undefined: it is down). */
  private connectedSince: number | undefined;
  private readonly leaseMs: number;
  private readonly beatMs: number;
  /** How long a room's membership keys outlive their last refresh (every holder died). */
  private readonly keepMs: number;

  constructor(
    private readonly redis: RedisConnections,
    private readonly config: AppConfig,
    private readonly broker: RedisRoomBroker,
  ) {
    redis.beforeClose(() => this.leaveCluster());
    this.beatMs = Math.max(50, Math.floor(config.PRESENCE_TTL_MS / 6));
    this.leaseMs = Math.floor(config.PRESENCE_TTL_MS / 2);
    this.keepMs = Math.max(MEMBERSHIP_KEEP_MS, 10 * config.PRESENCE_TTL_MS);
  }

  onModuleInit(): void {
    this.redis.command.on('ready', () => {
      this.connectedSince = Date.now();
      // What failed or was never sent meanwhile, and what Redis may have lost: every room.
      for (const roomId of this.held.roomIds()) this.markDirty(roomId);
      void this.resync();
    });
    this.redis.command.on('close', () => (this.connectedSince = undefined));
    if (this.redis.command.status === 'ready') this.connectedSince = Date.now();
    this.every(this.beatMs, () => this.beat());
  }

  /** Whether Redis may differ from this instance's connections in some room. */
  get needsResync(): boolean {
    return this.dirty.size > 0;
  }

  async add(roomId: string, member: RoomMemberRef): Promise<AddResult> {
    const { room, before } = this.held.add(roomId, member);
    if (!this.redis.ready) {
      // Not sent: Redis never sees this change; the resync announces it when Redis returns.
      room.unsent.add(member.connectionId);
      this.markDirty(roomId);
      return { firstOfUser: false };
    }
    room.inFlight += 1;
    try {
      await this.broker.whenSubscribed();
      const [first, offset, epoch, lease] = (await this.member('chatMemberAdd', roomId, [
        member.connectionId,
        member.userId,
      ])) as [number, number, string, number];
      // Its other entries here were expired (a stall) or lost (a data loss): resynced.
      if (lease === 2) void this.resyncRoom(roomId, false);
      if (lease === 0 && before > 0) void this.resyncRoom(roomId, true);
      return { firstOfUser: first === 1, position: { offset, epoch } };
    } catch (error) {
      // Maybe executed (a timeout): not announced again; the resync makes Redis right.
      this.degraded(roomId, 'add', error);
      return { firstOfUser: false };
    } finally {
      room.inFlight -= 1;
      this.held.settle(roomId);
    }
  }

  async remove(roomId: string, member: RoomMemberRef): Promise<RemoveResult> {
    const room = this.held.get(roomId);
    const wasHeld = this.held.remove(roomId, member);
    if (!this.redis.ready) {
      this.markDirty(roomId);
      return { lastOfUser: false, roomDeleted: false };
    }
    if (room) room.inFlight += 1;
    try {
      await this.broker.whenSubscribed();
      const [last, deleted, missing] = (await this.member('chatMemberRemove', roomId, [
        member.connectionId,
        member.userId,
      ])) as [number, number, number];
      if (missing === 1 && wasHeld && !this.held.holdsUser(roomId, member.userId)) {
        this.settleLeave(roomId, member.userId);
      }
      return { lastOfUser: last === 1, roomDeleted: deleted === 1 };
    } catch (error) {
      this.degraded(roomId, 'remove', error);
      return { lastOfUser: false, roomDeleted: false };
    } finally {
      if (room) room.inFlight -= 1;
      this.held.settle(roomId);
    }
  }

  /** The oldest `limit` users and the count, read by one script whatever the room's size. */
  async members(roomId: string, limit: number): Promise<RoomMembers> {
    try {
      const { keys } = this.redis;
      const [count, ...flat] = (await runScript(
        this.redis.command,
        this.redis.scripts,
        'chatMembers',
        [keys.room(roomId, 'order'), keys.room(roomId, 'members')],
        [String(limit)],
      )) as [number, ...string[]];
      const users: RoomMembers['users'] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [connections, since] = flat[i + 1].split(':').map(Number);
        users.push({ userId: flat[i], connections, since: new Date(since) });
      }
      return { users, count };
    } catch (error) {
      this.degraded(undefined, 'members', error);
      return this.held.members(roomId, limit);
    }
  }

  async count(roomId: string): Promise<number> {
    try {
      return await this.redis.command.zcard(this.redis.keys.room(roomId, 'order'));
    } catch (error) {
      this.degraded(undefined, 'count', error);
      return this.held.members(roomId, 0).count;
    }
  }

  /** The rooms this instance holds connections in: no key lists the cluster's rooms. */
  roomCount(): Promise<number> {
    return Promise.resolve(this.held.roomCount);
  }

  onExpired(listener: (left: ExpiredMember[]) => void): void {
    this.expiredListeners.push(listener);
  }

  /** Resyncs every room where Redis may differ from this instance's connections. */
  async resync(): Promise<void> {
    const rooms = [...this.dirty.keys()];
    await eachLimited(rooms, ROOM_CONCURRENCY, (roomId) => this.resyncRoom(roomId));
    if (rooms.length > 0 && !this.needsResync) {
      this.logger.log(`Membership of ${rooms.length} room(s) registered in Redis again`);
    }
  }

  /**
   * Makes Redis hold exactly this instance's connections in the room, in batches: adds what is
   * missing (publishing `join` for users new in the room), then removes, page by page of its
   * own set, what it no longer holds (publishing `leave` for users gone). When Redis lost the
   * room's membership (`lost`: no lease of this instance is left, not even the tombstone of an
   * expiry), the entries it had taken are restored without a `join`: nobody was told they left;
   * those it never sent are announced. Unknown `lost` is read from the room's leases.
   */
  private resyncRoom(roomId: string, lost?: boolean): Promise<void> {
    let running = this.resyncing.get(roomId);
    if (!running) {
      running = this.resyncRoomOnce(roomId, lost).finally(() => this.resyncing.delete(roomId));
      this.resyncing.set(roomId, running);
    }
    return running;
  }

  private async resyncRoomOnce(roomId: string, knownLost: boolean | undefined): Promise<void> {
    const failures = this.dirty.get(roomId) ?? 0;
    // Its publications must reach this instance's members too: wait for the room subscriptions.
    await this.broker.whenSubscribed();
    const { keys, instanceId } = this.redis;
    try {
      const lost =
        knownLost ??
        (await this.redis.command.zscore(keys.room(roomId, 'leases'), instanceId)) === null;
      const room = this.held.get(roomId);
      const entries = [...(room?.connections ?? [])];
      const unsent = entries.filter(([connection]) => room?.unsent.has(connection));
      const taken = entries.filter(([connection]) => !room?.unsent.has(connection));
      await this.addBatches(roomId, unsent, 'add');
      await this.addBatches(roomId, taken, lost ? 'restore' : 'add');
      const own = keys.roomInstance(roomId, instanceId);
      let cursor = '0';
      do {
        const [next, page] = await this.redis.command.sscan(own, cursor, 'COUNT', MEMBERSHIP_BATCH);
        cursor = next;
        const room = this.held.get(roomId);
        const stale = page
          .map(splitEntry)
          .filter(([connection, user]) => room?.connections.get(connection) !== user);
        // COUNT is a hint: a page may hold more than a batch.
        for (let i = 0; i < stale.length; i += MEMBERSHIP_BATCH) {
          const batch = stale.slice(i, i + MEMBERSHIP_BATCH).flat();
          const [, ...left] = (await this.member('chatMemberSync', roomId, ['drop', ...batch])) as [
            number,
            ...string[],
          ];
          this.reportExpired(roomId, left);
        }
      } while (cursor !== '0');
      if ((this.dirty.get(roomId) ?? 0) === failures) this.dirty.delete(roomId);
    } catch (error) {
      this.degraded(roomId, 'resync', error);
    }
  }

  /** Adds `entries` still held as each batch leaves (a later remove is sent after it). */
  private async addBatches(
    roomId: string,
    entries: [string, string][],
    mode: 'add' | 'restore',
  ): Promise<void> {
    for (let i = 0; i < entries.length; i += MEMBERSHIP_BATCH) {
      const room = this.held.get(roomId);
      const batch = entries
        .slice(i, i + MEMBERSHIP_BATCH)
        .filter(([connection, user]) => room?.connections.get(connection) === user);
      if (batch.length === 0) continue;
      await this.member('chatMemberSync', roomId, [mode, ...batch.flat()]);
      for (const [connection] of batch) room?.unsent.delete(connection);
    }
  }

  /**
   * Each held room: renews this instance's lease, resyncs the room when Redis does not hold as
   * many of its entries, and expires an instance whose lease ran out. An instance that was
   * itself cut off waits after reconnecting until the others have reconnected too (their
   * backoff) and renewed their leases: after a Redis outage every lease looks lapsed.
   */
  private async beat(): Promise<void> {
    if (!this.redis.ready) return;
    const since = this.connectedSince;
    const expire =
      since !== undefined && Date.now() - since >= this.leaseMs + RECONNECT_MAX_DELAY_MS;
    const rooms = new Set([...this.held.roomIds(), ...this.dirty.keys()]);
    await eachLimited([...rooms], ROOM_CONCURRENCY, async (roomId) => {
      if (!this.redis.ready) return;
      if (this.dirty.has(roomId)) return this.resyncRoom(roomId);
      const room = this.held.get(roomId);
      if (!room) return;
      // Counts compare only while no change of the room is on its way to Redis.
      const held = room.inFlight === 0 ? room.connections.size : -1;
      try {
        const [resync, lease, lapsed] = (await this.member('chatMemberBeat', roomId, [
          String(held),
          expire ? '1' : '0',
        ])) as [number, number, string];
        if (resync === 1) await this.resyncRoom(roomId, lease === 0);
        if (lapsed !== '') this.expire(roomId, lapsed);
      } catch (error) {
        this.degraded(roomId, 'beat', error);
      }
    });
  }

  /**
   * Expires a lapsed instance's entries in the room, apart from the beats: a large expiry must not
   * hold up the renewal of this instance's own leases.
   */
  private expire(roomId: string, instanceId: string): void {
    if (this.expiring.has(roomId)) return;
    this.expiring.add(roomId);
    void this.expiries
      .run(() => this.drain(roomId, instanceId, 'expire'))
      .catch((error: unknown) => this.degraded(roomId, 'expiry', error))
      .finally(() => this.expiring.delete(roomId));
  }

  /** Removes an instance's entries in a room, a batch per call, publishing their users' leave. */
  private async drain(roomId: string, instanceId: string, why: 'expire' | 'leave'): Promise<void> {
    for (;;) {
      const [done, ...left] = (await this.member(
        'chatMemberDrain',
        roomId,
        [String(MEMBERSHIP_BATCH), why],
        instanceId,
      )) as [number, ...string[]];
      this.reportExpired(roomId, left);
      if (done === 1) return;
    }
  }

  /** Graceful stop: this instance's members leave room by room (their `leave` published). */
  private async leaveCluster(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    if (!this.redis.ready) return; // the survivors expire this instance when its leases run out
    const rooms = new Set([...this.held.roomIds(), ...this.dirty.keys()]);
    await eachLimited([...rooms], ROOM_CONCURRENCY, (roomId) =>
      this.drain(roomId, this.redis.instanceId, 'leave').catch(() => undefined),
    );
  }

  /**
   * The user's last local connection left, but Redis had lost it (its data was flushed or lost):
   * nobody was told. Once every instance had the time to register its connections again (their
   * beats resync within the lease), the leave is published if no instance holds the user.
   */
  private settleLeave(roomId: string, userId: string): void {
    const timer = setTimeout(() => {
      const { keys } = this.redis;
      const scriptKeys = [
        keys.room(roomId, 'members'),
        keys.room(roomId, 'meta'),
        keys.room(roomId, 'ch'),
        keys.room(roomId, 'hist'),
      ];
      runScript(this.redis.command, this.redis.scripts, 'chatLeaveIfAbsent', scriptKeys, [
        userId,
      ]).catch((error: unknown) => this.degraded(undefined, 'leave', error));
    }, this.leaseMs);
    timer.unref();
  }

  private reportExpired(roomId: string, users: string[]): void {
    if (users.length === 0) return;
    const left = users.map((userId) => ({ roomId, userId }));
    for (const listener of this.expiredListeners) listener(left);
  }

  /** Runs a membership script on the room's keys, as `instanceId` (default: this instance). */
  private member(
    name: ScriptName,
    roomId: string,
    args: string[],
    instanceId = this.redis.instanceId,
  ): Promise<unknown> {
    const keys = this.redis.keys.membership(roomId, instanceId);
    const common = [instanceId, String(this.leaseMs), String(this.keepMs)];
    return runScript(this.redis.command, this.redis.scripts, name, keys, [...common, ...args]);
  }

  private markDirty(roomId: string): void {
    this.dirty.set(roomId, (this.dirty.get(roomId) ?? 0) + 1);
  }

  private degraded(roomId: string | undefined, operation: string, error: unknown): void {
    if (roomId !== undefined) this.markDirty(roomId);
    this.redis.failed(error);
    this.logger.debug(`Redis ${operation} failed (${(error as Error).message}); serving locally`);
  }

  /** Runs `task` every `ms`, skipping a round while the previous one is still waiting on Redis. */
  private every(ms: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      void task().finally(() => (running = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/** "<connection>\n<user>" as [connection, user]. */
function splitEntry(entry: string): [string, string] {
  const newline = entry.indexOf('\n');
  return [entry.slice(0, newline), entry.slice(newline + 1)];
}
