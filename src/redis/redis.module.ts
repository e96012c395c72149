import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RedisConnections } from './redis-connections';

/**
 * Owns the connections to Redis: made (and connected) at start, closed at shutdown. Imported by
 * the Redis implementations of the ports only when REDIS_URL is set; nothing else sees Redis.
 */
@Module({})
export class RedisModule {
  static forRoot(): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        {
          provide: RedisConnections,
          inject: [AppConfig],
          useFactory: async (config: AppConfig): Promise<RedisConnections> => {
            const connections = new RedisConnections(config);
            await connections.connect();
            return connections;
          },
        },
      ],
      exports: [RedisConnections],
    };
  }
}
