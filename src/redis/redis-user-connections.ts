import type { UserConnections } from '../auth/user-connections';
import { RedisConnections } from './redis-connections';
import { defineScripts, runScript, ScriptName } from './redis-scripts';

/**
 * UserConnections shared by the cluster: each instance counts its own slots per user in Redis
 * (`P{#i:<instance>}:u:<user>`), and a user's count is the sum over the registered instances, so
 * the slots of an instance that dies go when the membership layer reaps it (reap.lua). Fails (the
 * caller lets the connection in) while Redis is away.
 */
export class RedisUserConnections implements UserConnections {
  constructor(private readonly redis: RedisConnections) {
    defineScripts(redis.command);
  }

  async acquire(userId: string, connectionId: string, max: number): Promise<boolean> {
    return (await this.run('chatUserAcquire', [userId, connectionId, String(max)])) === 1;
  }

  async release(userId: string, connectionId: string): Promise<void> {
    await this.run('chatUserRelease', [userId, connectionId]);
  }

  async count(userId: string): Promise<number> {
    return Number(await this.run('chatUserCount', [userId]));
  }

  private run(name: ScriptName, args: string[]): Promise<unknown> {
    const { command, instanceId } = this.redis;
    return runScript(command, this.redis.scripts, name, [], [instanceId, ...args]);
  }
}
