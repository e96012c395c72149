import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RedisClients } from '../redis/redis-clients';
import { RedisRoomBroker } from '../redis/redis-room-broker';
import { RedisRoomStore } from '../redis/redis-room-store';
import { REDIS_CLIENTS } from '../redis/redis.module';
import { InMemoryRoomBroker } from './in-memory-room-broker';
import { InMemoryRoomStore } from './in-memory-room-store';
import { RoomBroker } from './room-broker';
import { RoomHub } from './room-hub';
import { RoomStore } from './room-store';
import { RoomsService } from './rooms.service';

/**
 * Membership and fan-out. The ports (RoomStore, RoomBroker) are bound here, in the one place that
 * reads the choice: with REDIS_URL unset the in-memory implementations, which need nothing outside
 * the process; with it set the Redis ones, shared by every instance.
 */
@Module({
  providers: [
    RoomsService,
    RoomHub,
    {
      provide: RoomStore,
      inject: [REDIS_CLIENTS, AppConfig, RoomBroker],
      useFactory: (redis: RedisClients | null, config: AppConfig, broker: RoomBroker): RoomStore =>
        redis ? new RedisRoomStore(redis, config, broker) : new InMemoryRoomStore(broker),
    },
    {
      provide: RoomBroker,
      inject: [REDIS_CLIENTS, RoomHub],
      useFactory: (redis: RedisClients | null, hub: RoomHub): RoomBroker =>
        redis ? new RedisRoomBroker(redis, hub) : new InMemoryRoomBroker(hub),
    },
  ],
  exports: [RoomsService, RoomHub, RoomStore, RoomBroker],
})
export class RoomsModule {}
