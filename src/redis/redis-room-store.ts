import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import {
  frames,
  type RoomFrame,
  type UserJoinedFrame,
  type UserLeftFrame,
} from '../protocol/chat.protocol';
import { InMemoryRoomStore } from '../rooms/in-memory-room-store';
import type { RoomBroker } from '../rooms/room-broker';
import type {
  AddResult,
  ExpiredMember,
  RemoveResult,
  RoomMemberRef,
  RoomPresence,
  RoomStore,
} from '../rooms/room-store';
import {
  ADD_SCRIPT,
  HEARTBEAT_SCRIPT,
  LEAVE_CLUSTER_SCRIPT,
  REAP_SCRIPT,
  REMOVE_SCRIPT,
  RESYNC_SCRIPT,
} from './membership.lua';
import { RECONNECT_MAX_DELAY_MS, RedisClients } from './redis-clients';

const SCRIPTS = {
  chatAdd: ADD_SCRIPT,
  chatRemove: REMOVE_SCRIPT,
  chatHeartbeat: HEARTBEAT_SCRIPT,
  chatReap: REAP_SCRIPT,
  chatResync: RESYNC_SCRIPT,
  chatLeaveCluster: LEAVE_CLUSTER_SCRIPT,
} as const;
type ScriptName = keyof typeof SCRIPTS;

/**
 * Cluster-wide membership in Redis (layout in membership.lua.ts). Each instance heartbeats; an
 * instance silent for half of PRESENCE_TTL_MS is reaped by the survivors, who announce its users'
 * `user_left`. The instance also keeps its own connections in memory: while Redis is away it
 * answers from them (degraded: this instance's view only), and when Redis returns it makes Redis
 * hold exactly its current connections again.
 */
export class RedisRoomStore implements RoomStore, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisRoomStore.name);
  private readonly local = new InMemoryRoomStore();
  /** This instance's connections: "<room>\n<connection>" -> user. */
  private readonly held = new Map<string, RoomMemberRef & { roomId: string }>();
  private readonly expiredListeners: ((left: ExpiredMember[]) => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private resyncNeeded = true;
  /** Since when the command connection has been up without a break (undefined: it is down). */
  private connectedSince: number | undefined;

  constructor(
    private readonly redis: RedisClients,
    private readonly config: AppConfig,
    private readonly broker: RoomBroker,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      redis.command.defineCommand(name, { numberOfKeys: 0, lua });
    }
  }

  async onModuleInit(): Promise<void> {
    this.redis.command.on('ready', () => {
      this.connectedSince = Date.now();
      void this.resync();
    });
    this.redis.command.on('close', () => {
      this.resyncNeeded = true;
      this.connectedSince = undefined;
    });
    if (this.redis.command.status === 'ready') this.connectedSince = Date.now();
    const beat = Math.max(50, Math.floor(this.config.PRESENCE_TTL_MS / 6));
    this.every(beat, () => this.heartbeat());
    this.every(beat, () => this.reap());
    if (this.redis.command.status === 'ready') await this.resync();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    try {
      await this.announce(await this.run('chatLeaveCluster'));
    } catch {
      // Redis is away: the survivors reap this instance when its heartbeat is stale.
    }
    await this.redis.close();
  }

  async add(roomId: string, member: RoomMemberRef, announce?: UserJoinedFrame): Promise<AddResult> {
    const local = await this.local.add(roomId, member);
    this.held.set(`${roomId}\n${member.connectionId}`, { roomId, ...member });
    const message = announce ? `${member.userId}\n${JSON.stringify(announce)}` : '';
    try {
      const added = await this.run('chatAdd', roomId, member.connectionId, member.userId, message);
      return { firstOfUser: added === 1 };
    } catch (error) {
      this.degraded('add', error);
      if (local.firstOfUser && announce)
        await this.announceLocally(roomId, announce, member.userId);
      return local;
    }
  }

  async remove(
    roomId: string,
    member: RoomMemberRef,
    announce?: UserLeftFrame,
  ): Promise<RemoveResult> {
    const local = await this.local.remove(roomId, member);
    this.held.delete(`${roomId}\n${member.connectionId}`);
    const message = announce ? `\n${JSON.stringify(announce)}` : '';
    try {
      const [last, deleted] = (await this.run(
        'chatRemove',
        roomId,
        member.connectionId,
        member.userId,
        message,
      )) as [number, number];
      return { lastOfUser: last === 1, roomDeleted: deleted === 1 };
    } catch (error) {
      this.degraded('remove', error);
      if (local.lastOfUser && announce) await this.announceLocally(roomId, announce);
      return local;
    }
  }

  /** Redis is away: this instance's members are told; a failure that leaves Redis "ready" (a
   * timeout) may still have announced through Redis, and is not repeated. */
  private async announceLocally(
    roomId: string,
    frame: UserJoinedFrame | UserLeftFrame,
    exceptUserId?: string,
  ): Promise<void> {
    if (!this.redis.ready) await this.broker.publish(roomId, frame, exceptUserId);
  }

  async members(roomId: string): Promise<RoomPresence[]> {
    try {
      const [users, since] = await Promise.all([
        this.redis.command.hgetall(this.redis.key('users', roomId)),
        this.redis.command.hgetall(this.redis.key('since', roomId)),
      ]);
      const presence = Object.entries(users).map(([userId, connections]) => ({
        userId,
        connections: Number(connections),
        since: new Date(Number(since[userId] ?? 0)),
      }));
      return presence.sort((a, b) => a.since.getTime() - b.since.getTime());
    } catch (error) {
      this.degraded('members', error);
      return this.local.members(roomId);
    }
  }

  async roomCount(): Promise<number> {
    try {
      return await this.redis.command.scard(this.redis.key('rooms'));
    } catch (error) {
      this.degraded('roomCount', error);
      return this.local.roomCount();
    }
  }

  onExpired(listener: (left: ExpiredMember[]) => void): void {
    this.expiredListeners.push(listener);
  }

  /** Makes Redis hold exactly this instance's current connections; announces those gone (and,
   * after this instance had been reaped as dead, those back). */
  async resync(): Promise<void> {
    const args = [...this.held.values()].flatMap((m) => [m.roomId, m.connectionId, m.userId]);
    try {
      const [left, back] = (await this.run('chatResync', ...args)) as [string[], string[]];
      for (const { roomId, userId } of pairs(back)) {
        await this.publish(roomId, frames.userJoined(userId, roomId), userId);
      }
      await this.announce(left);
      this.resyncNeeded = false;
      this.logger.log(`Membership of ${this.held.size} local connection(s) registered in Redis`);
    } catch (error) {
      this.degraded('resync', error);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.resyncNeeded) return this.resync();
    try {
      if ((await this.run('chatHeartbeat')) === 1) await this.resync();
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
      await this.announce(await this.run('chatReap', String(stale), String(stale * 20)));
    } catch (error) {
      this.degraded('reap', error);
    }
  }

  /**
   * Publishes an announcement on the command connection, which has just answered: right after a
   * reconnect the subscriber may not be ready yet, and the broker would then deliver locally only.
   * Falls back to the broker (local delivery) when Redis refuses.
   */
  private async publish(roomId: string, frame: RoomFrame, exceptUserId = ''): Promise<void> {
    try {
      await this.redis.command.publish(
        this.redis.key('room', roomId),
        `${exceptUserId}\n${JSON.stringify(frame)}`,
      );
    } catch (error) {
      this.redis.failed(error);
      await this.broker.publish(roomId, frame, exceptUserId || undefined);
    }
  }

  /** Announces `user_left` for users the store removed on its own, then tells the listeners. */
  private async announce(flat: unknown): Promise<void> {
    const left = pairs(flat as string[]);
    if (left.length === 0) return;
    for (const { roomId, userId } of left) {
      await this.publish(roomId, frames.userLeft(userId, roomId));
    }
    for (const listener of this.expiredListeners) listener(left);
  }

  private run(name: ScriptName, ...args: string[]): Promise<unknown> {
    const client = this.redis.command as unknown as Record<
      string,
      (...a: string[]) => Promise<unknown>
    >;
    const needsInstance = name !== 'chatReap';
    const argv = needsInstance
      ? [this.redis.prefix, this.redis.instanceId, ...args]
      : [this.redis.prefix, ...args];
    return client[name](...argv);
  }

  private degraded(operation: string, error: unknown): void {
    this.resyncNeeded = true;
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
  for (let i = 0; i + 1 < flat.length; i += 2)
    members.push({ roomId: flat[i], userId: flat[i + 1] });
  return members;
}
