import { OnModuleInit } from '@nestjs/common';
import type { UserConnections } from '../auth/user-connections';
import { RedisConnections } from './redis-connections';
import { runScript } from './redis-scripts';

/** How long a user's set outlives its last acquire: entries of instances that died go with it. */
const USER_SET_TTL_MS = 24 * 3_600_000;

/**
 * UserConnections shared by the cluster, in the user's own hash slot: a set of the user's
 * connections as "<instance>\n<connection>" (P{#u:<user>}:conns). An instance marks itself alive
 * (P{#i:<instance>}:alive, a key with a TTL it renews); the entries of an instance no longer alive
 * do not count, and go at the user's next acquire. So nothing is summed over instances and
 * nothing is reaped: a count reads one user's set and the liveness of the few instances named in
 * it. Fails (the caller lets the connection in) while Redis is away.
 */
export class RedisUserConnections implements UserConnections, OnModuleInit {
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private readonly aliveMs: number;

  constructor(
    private readonly redis: RedisConnections,
    presenceTtlMs: number,
  ) {
    this.aliveMs = Math.floor(presenceTtlMs / 2);
    redis.beforeClose(() => this.stop());
  }

  onModuleInit(): void {
    const renew = (): void => void this.markAlive();
    this.redis.command.on('ready', renew);
    this.timer = setInterval(renew, Math.max(50, Math.floor(this.aliveMs / 3)));
    this.timer.unref();
    if (this.redis.command.status === 'ready') renew();
  }

  async acquire(userId: string, connectionId: string, max: number): Promise<boolean> {
    const { keys, instanceId } = this.redis;
    const set = keys.userConnections(userId);
    const dead = await this.deadInstances(await this.redis.command.smembers(set));
    const entry = `${instanceId}\n${connectionId}`;
    const args = [entry, String(max), String(USER_SET_TTL_MS), ...dead];
    const counted = await runScript(
      this.redis.command,
      this.redis.scripts,
      'chatUserAcquire',
      [set],
      args,
    );
    return counted === 1;
  }

  async release(userId: string, connectionId: string): Promise<void> {
    const { keys, instanceId } = this.redis;
    await this.redis.command.srem(keys.userConnections(userId), `${instanceId}\n${connectionId}`);
  }

  /** The user's connections on instances alive, cluster-wide. */
  async count(userId: string): Promise<number> {
    const entries = await this.redis.command.smembers(this.redis.keys.userConnections(userId));
    const dead = new Set(await this.deadInstances(entries));
    return entries.filter((entry) => !dead.has(instanceOf(entry))).length;
  }

  /** The other instances named in `entries` whose alive key is gone (one read per instance). */
  private async deadInstances(entries: string[]): Promise<string[]> {
    const others = new Set(entries.map(instanceOf));
    others.delete(this.redis.instanceId);
    const instances = [...others];
    const alive = await Promise.all(
      instances.map((id) => this.redis.command.exists(this.redis.keys.instanceAlive(id))),
    );
    return instances.filter((_, i) => alive[i] === 0);
  }

  /** Renews the alive key; one renewal at a time, so a stalled Redis queues none. */
  private async markAlive(): Promise<void> {
    const { command, keys, instanceId } = this.redis;
    if (command.status !== 'ready' || this.renewing) return;
    this.renewing = true;
    try {
      await command.set(keys.instanceAlive(instanceId), '1', 'PX', this.aliveMs);
    } catch {
      // Redis away: renewed at the next tick or on reconnect.
    } finally {
      this.renewing = false;
    }
  }

  /** Graceful stop: this instance's entries stop counting at once. */
  private async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const { command, keys, instanceId } = this.redis;
    if (command.status === 'ready') await command.del(keys.instanceAlive(instanceId));
  }
}

function instanceOf(entry: string): string {
  return entry.slice(0, entry.indexOf('\n'));
}
