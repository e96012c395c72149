import { Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { InMemoryRoomStore } from '../rooms/in-memory-room-store';
import type {
  AddResult,
  ExpiredMember,
  RemoveResult,
  RoomMemberRef,
  RoomPresence,
  RoomStore,
} from '../rooms/room-store';
import type { PublicationData } from '../rooms/publication';
import { RECONNECT_MAX_DELAY_MS, RedisConnections } from './redis-connections';
import { RedisRoomBroker } from './redis-room-broker';
import { ScriptName, defineScripts, runScript } from './redis-scripts';

/**
 * Cluster-wide membership in Redis (layout in lua/library.lua). Every change is one script that
 * also publishes the resulting `join` / `leave` on the room's positioned stream, so a room's
 * membership events and messages have one order whoever made the change. Each instance
 * heartbeats; an instance silent for half of PRESENCE_TTL_MS is reaped by the survivors, whose
 * script publishes its users' `leave`. The instance also mirrors its own connections in memory:
 * while Redis is away it answers from them (degraded: this instance's view only), and when Redis
 * returns it makes Redis hold exactly its current connections again (RESYNC), announcing the
 * difference.
 */
export class RedisRoomStore implements RoomStore, OnModuleInit {
  private readonly logger = new Logger(RedisRoomStore.name);
  private readonly local = new InMemoryRoomStore();
  /** This instance's connections: "<room>\n<connection>" -> member. */
  private readonly held = new Map<string, RoomMemberRef & { roomId: string }>();
  private readonly expiredListeners: ((left: ExpiredMember[]) => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /**
   * Redis may differ from `held` once a change failed: `changed` counts failures, `synced` is the
   * count a resync started from. A failure during a resync leaves them apart, so it is not
   * forgotten when that resync completes.
   */
  private changed = 1;
  private synced = 0;
  /**
   * "<room>\n<user>" of joins and leaves shown to this instance's members while Redis was away:
   * the resync that brings them to Redis marks their publications so they are not shown twice.
   */
  private readonly shownLocally = new Set<string>();
  /** Changes sent to Redis and not answered yet: the heartbeat compares counts only without. */
  private inFlight = 0;
  /** Since when the command connection has been up without a break (undefined: it is down). */
  private connectedSince: number | undefined;
  /** The resync under way: callers share it instead of racing. */
  private resyncing: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisConnections,
    private readonly config: AppConfig,
    private readonly broker: RedisRoomBroker,
  ) {
    defineScripts(redis.command);
    redis.beforeClose(() => this.leaveCluster());
  }

  async onModuleInit(): Promise<void> {
    this.redis.command.on('ready', () => {
      this.connectedSince = Date.now();
      void this.resync();
    });
    this.redis.command.on('close', () => {
      this.changed += 1;
      this.connectedSince = undefined;
    });
    if (this.redis.command.status === 'ready') this.connectedSince = Date.now();
    const beat = Math.max(50, Math.floor(this.config.PRESENCE_TTL_MS / 6));
    this.every(beat, () => this.heartbeat());
    this.every(beat, () => this.reap());
    if (this.redis.command.status === 'ready') await this.resync();
  }

  /** Whether Redis may differ from this instance's connections. */
  get needsResync(): boolean {
    return this.changed !== this.synced;
  }

  async add(roomId: string, member: RoomMemberRef): Promise<AddResult> {
    const local = this.local.addMember(roomId, member);
    this.held.set(`${roomId}\n${member.connectionId}`, { roomId, ...member });
    if (!this.redis.ready) {
      // Not sent: Redis never sees this change, so announcing it here cannot double it.
      this.changed += 1;
      if (local.firstOfUser)
        this.showLocally(roomId, { kind: 'join', userId: member.userId, at: Date.now() });
      return local;
    }
    try {
      await this.broker.whenSubscribed();
      const [first, unregistered] = (await this.change('chatAdd', roomId, member)) as [
        number,
        number,
      ];
      if (unregistered === 1) void this.resync();
      return { firstOfUser: first === 1 };
    } catch (error) {
      // Maybe executed (a timeout): not announced again; the resync makes Redis right.
      this.degraded('add', error);
      return local;
    }
  }

  async remove(roomId: string, member: RoomMemberRef): Promise<RemoveResult> {
    const local = this.local.removeMember(roomId, member);
    this.held.delete(`${roomId}\n${member.connectionId}`);
    if (!this.redis.ready) {
      this.changed += 1;
      if (local.lastOfUser)
        this.showLocally(roomId, { kind: 'leave', userId: member.userId, at: Date.now() });
      return local;
    }
    try {
      await this.broker.whenSubscribed();
      const [last, deleted, missing] = (await this.change('chatRemove', roomId, member)) as [
        number,
        number,
        number,
      ];
      if (missing === 1 && local.lastOfUser) this.settleLeave(roomId, member.userId);
      return { lastOfUser: last === 1, roomDeleted: deleted === 1 };
    } catch (error) {
      this.degraded('remove', error);
      return local;
    }
  }

  /** One hash per room: a user's count and entry time are read together, never half added. */
  async members(roomId: string): Promise<RoomPresence[]> {
    try {
      const entries = await this.redis.command.hgetall(this.redis.keys.room(roomId, 'members'));
      const presence: RoomPresence[] = [];
      for (const [userId, value] of Object.entries(entries)) {
        const [connections, since] = value.split(':').map(Number);
        presence.push({ userId, connections, since: new Date(since) });
      }
      return presence.sort((a, b) => a.since.getTime() - b.since.getTime());
    } catch (error) {
      this.degraded('members', error);
      return this.local.members(roomId);
    }
  }

  async count(roomId: string): Promise<number> {
    try {
      return await this.redis.command.hlen(this.redis.keys.room(roomId, 'members'));
    } catch (error) {
      this.degraded('count', error);
      return this.local.count(roomId);
    }
  }

  async roomCount(): Promise<number> {
    try {
      return await this.redis.command.scard(this.redis.keys.global('rooms'));
    } catch (error) {
      this.degraded('roomCount', error);
      return this.local.roomCount();
    }
  }

  onExpired(listener: (left: ExpiredMember[]) => void): void {
    this.expiredListeners.push(listener);
  }

  /**
   * Makes Redis hold exactly this instance's current connections. The script publishes the
   * difference: `leave` for users gone meanwhile, `join` for users Redis did not have (joined
   * during an outage, or back after this instance was reaped as dead).
   */
  resync(): Promise<void> {
    this.resyncing ??= this.resyncOnce().finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }

  private async resyncOnce(): Promise<void> {
    // Its publications must reach this instance's members too: wait for the room subscriptions.
    await this.broker.whenSubscribed();
    const started = this.changed;
    const shown = [...this.shownLocally];
    const held = [...this.held.values()].flatMap((m) => [m.roomId, m.connectionId, m.userId]);
    const args = [
      this.redis.instanceId,
      String(shown.length),
      ...shown.flatMap((key) => key.split('\n')),
      ...held,
    ];
    try {
      const [left, joined] = (await this.run('chatResync', args)) as [string[], string[]];
      this.synced = started;
      for (const key of shown) this.shownLocally.delete(key);
      this.reportExpired(left);
      this.logger.log(
        `Membership of ${this.held.size} local connection(s) registered in Redis` +
          ` (${pairs(joined).length} announced as joined, ${pairs(left).length} as left)`,
      );
    } catch (error) {
      this.degraded('resync', error);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.needsResync) return this.resync();
    try {
      // Counts compare only while no change is on its way to Redis.
      const held = this.inFlight === 0 ? String(this.held.size) : '-1';
      if ((await this.run('chatHeartbeat', [this.redis.instanceId, held])) === 1) {
        await this.resync();
      }
    } catch (error) {
      this.degraded('heartbeat', error);
    }
  }

  /**
   * Reaps instances silent for half the TTL: announced within the TTL of their death. An instance
   * that was itself cut off waits after reconnecting until the others have reconnected too (their
   * backoff) and heartbeat again: after a Redis outage every instance looks silent.
   */
  private async reap(): Promise<void> {
    const stale = Math.floor(this.config.PRESENCE_TTL_MS / 2);
    const grace = stale + RECONNECT_MAX_DELAY_MS;
    if (this.connectedSince === undefined || Date.now() - this.connectedSince < grace) return;
    try {
      this.reportExpired(await this.run('chatReap', [String(stale), String(stale * 20)]));
    } catch (error) {
      this.degraded('reap', error);
    }
  }

  /** Graceful stop: this instance's members leave (their `leave` is published by the script). */
  private async leaveCluster(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    if (!this.redis.ready) return; // the survivors reap this instance when its heartbeat is stale
    try {
      this.reportExpired(await this.run('chatLeaveCluster', [this.redis.instanceId]));
    } catch {
      // Redis went away meanwhile: the survivors reap this instance.
    }
  }

  /**
   * The user's last local connection left, but Redis had lost it (its data was flushed or lost):
   * nobody was told. Once every instance had the time to register its connections again (their
   * heartbeats resync within half the presence TTL), the leave is published if no instance holds
   * the user in the room.
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
      ]).catch((error: unknown) => this.degraded('leave', error));
    }, this.config.PRESENCE_TTL_MS / 2);
    timer.unref();
  }

  /** Redis is away: this instance's members are shown the change now; the resync tells the rest. */
  private showLocally(roomId: string, data: PublicationData): void {
    if (data.kind === 'frame') return;
    this.shownLocally.add(`${roomId}\n${data.userId}`);
    this.broker.deliverLocally(roomId, data);
  }

  private reportExpired(flat: unknown): void {
    const left = pairs(flat as string[]);
    if (left.length === 0) return;
    for (const listener of this.expiredListeners) listener(left);
  }

  private async change(name: 'chatAdd' | 'chatRemove', roomId: string, member: RoomMemberRef) {
    const { keys, instanceId } = this.redis;
    const scriptKeys = keys.membership(roomId, instanceId);
    this.inFlight += 1;
    try {
      return await runScript(this.redis.command, this.redis.scripts, name, scriptKeys, [
        instanceId,
        roomId,
        member.connectionId,
        member.userId,
      ]);
    } finally {
      this.inFlight -= 1;
    }
  }

  private run(name: ScriptName, args: string[]): Promise<unknown> {
    return runScript(this.redis.command, this.redis.scripts, name, [], args);
  }

  private degraded(operation: string, error: unknown): void {
    this.changed += 1;
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

/** [room, user, room, user, ...] as members. */
function pairs(flat: string[]): ExpiredMember[] {
  const members: ExpiredMember[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    members.push({ roomId: flat[i], userId: flat[i + 1] });
  }
  return members;
}
