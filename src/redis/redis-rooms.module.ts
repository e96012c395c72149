import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DEPENDENCY_HEALTH } from '../lifecycle/dependency-health';
import { RoomBroker } from '../rooms/room-broker';
import { RoomStore } from '../rooms/room-store';
import { RedisConnections } from './redis-connections';
import { RedisHealth } from './redis-health';
import { RedisRoomBroker } from './redis-room-broker';
import { RedisRoomStore } from './redis-room-store';
import { RedisModule } from './redis.module';
import { RedisUserConnections } from './redis-user-connections';
import { UserConnections } from '../auth/user-connections';

/** The cluster backend of the room ports: membership and fan-out shared through Redis. */
@Module({
  imports: [RedisModule.forRoot()],
  providers: [
    {
      provide: RedisRoomBroker,
      inject: [RedisConnections, AppConfig],
      useFactory: (redis: RedisConnections, config: AppConfig) =>
        new RedisRoomBroker(redis, config.IDEMPOTENCY_WINDOW_MS),
    },
    { provide: RoomBroker, useExisting: RedisRoomBroker },
    {
      provide: RoomStore,
      inject: [RedisConnections, AppConfig, RedisRoomBroker],
      useFactory: (redis: RedisConnections, config: AppConfig, broker: RedisRoomBroker) =>
        new RedisRoomStore(redis, config, broker),
    },
    {
      provide: UserConnections,
      inject: [RedisConnections, AppConfig],
      useFactory: (redis: RedisConnections, config: AppConfig) =>
        new RedisUserConnections(redis, config.PRESENCE_TTL_MS),
    },
    {
      provide: DEPENDENCY_HEALTH,
      inject: [RedisConnections],
      useFactory: (redis: RedisConnections) => [new RedisHealth(redis)],
    },
  ],
  exports: [RoomBroker, RoomStore, UserConnections, DEPENDENCY_HEALTH, RedisModule],
})
export class RedisRoomsModule {}
