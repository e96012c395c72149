import type { DependencyHealth, DependencyStatus } from '../lifecycle/dependency-health';
import { RedisConnections } from './redis-connections';

/** Up when both shared Redis connections are ready and a PING answers in time. */
export class RedisHealth implements DependencyHealth {
  readonly name = 'redis';

  constructor(private readonly redis: RedisConnections) {}

  async check(): Promise<DependencyStatus> {
    if (!this.redis.ready) {
      return { up: false, details: { message: 'not connected; serving local members only' } };
    }
    try {
      await this.redis.command.ping();
      return { up: true };
    } catch (error) {
      this.redis.failed(error);
      return { up: false, details: { message: (error as Error).message } };
    }
  }
}
