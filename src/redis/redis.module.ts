import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RedisClients } from './redis-clients';

/** Token of the Redis connections: `null` when REDIS_URL is unset (one in-memory instance). */
export const REDIS_CLIENTS = Symbol('RedisClients');

@Global()
@Module({
  providers: [
    {
      provide: REDIS_CLIENTS,
      inject: [AppConfig],
      useFactory: async (config: AppConfig): Promise<RedisClients | null> => {
        if (config.REDIS_URL === '') return null;
        const clients = new RedisClients(config);
        await clients.connect();
        return clients;
      },
    },
  ],
  exports: [REDIS_CLIENTS],
})
export class RedisModule {}
