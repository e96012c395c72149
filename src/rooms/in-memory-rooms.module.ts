import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { InMemoryRoomBroker } from './in-memory-room-broker';
import { InMemoryRoomStore } from './in-memory-room-store';
import { RoomBroker } from './room-broker';
import { RoomStore } from './room-store';
import { DEPENDENCY_HEALTH } from '../lifecycle/dependency-health';
import { InMemoryUserConnections } from '../auth/in-memory-user-connections';
import { UserConnections } from '../auth/user-connections';

/** The single-instance backend of the room ports: nothing outside the process. */
@Module({
  providers: [
    {
      provide: InMemoryRoomBroker,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new InMemoryRoomBroker({
          size: config.HISTORY_SIZE,
          ttlMs: config.HISTORY_TTL_MS,
          maxRooms: config.HISTORY_MAX_ROOMS,
          maxBytes: config.HISTORY_MAX_BYTES,
          idempotencyWindowMs: config.IDEMPOTENCY_WINDOW_MS,
        }),
    },
    { provide: RoomBroker, useExisting: InMemoryRoomBroker },
    {
      provide: RoomStore,
      inject: [InMemoryRoomBroker],
      useFactory: (broker: InMemoryRoomBroker): RoomStore => new InMemoryRoomStore(broker),
    },
    { provide: UserConnections, useFactory: () => new InMemoryUserConnections() },
    { provide: DEPENDENCY_HEALTH, useValue: [] },
  ],
  exports: [RoomBroker, RoomStore, UserConnections, DEPENDENCY_HEALTH],
})
export class InMemoryRoomsModule {}
