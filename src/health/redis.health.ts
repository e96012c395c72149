import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { RedisClients } from '../redis/redis-clients';
import { REDIS_CLIENTS } from '../redis/redis.module';

/** Up when both Redis connections are ready and a PING answers; absent without REDIS_URL. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS_CLIENTS) private readonly redis: RedisClients | null,
  ) {}

  get enabled(): boolean {
    return this.redis !== null;
  }

  async check(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const redis = this.redis;
    if (!redis) return indicator.up({ mode: 'in-memory' });
    if (!redis.ready)
      return indicator.down({ message: 'not connected; serving local members only' });
    try {
      await redis.command.ping();
      return indicator.up();
    } catch (error) {
      redis.failed(error);
      return indicator.down({ message: (error as Error).message });
    }
  }
}
