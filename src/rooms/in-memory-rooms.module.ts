import { Module } from '@nestjs/common';
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
    // A factory: the broker's constructor takes a clock, which is not a provider.
    { provide: InMemoryRoomBroker, useFactory: () => new InMemoryRoomBroker() },
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
