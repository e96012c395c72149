import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ServerIdentity } from '../lifecycle/server-identity';
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
          inject: [AppConfig, ServerIdentity],
          useFactory: async (
            config: AppConfig,
            identity: ServerIdentity,
          ): Promise<RedisConnections> => {
            const connections = new RedisConnections(config, identity.id);
            await connections.connect();
            return connections;
          },
        },
      ],
      exports: [RedisConnections],
    };
  }
}
