import { Module } from '@nestjs/common';
import { ConnectionsModule } from '../connections/connections.module';
import { InMemoryRoomBroker } from './in-memory-room-broker';
import { InMemoryRoomStore } from './in-memory-room-store';
import { RoomBroker } from './room-broker';
import { RoomHub } from './room-hub';
import { RoomStore } from './room-store';
import { RoomsService } from './rooms.service';

/**
 * Membership and fan-out. The ports (RoomStore, RoomBroker) are bound here, in one place; the
 * in-memory implementations are the default and need nothing outside the process.
 */
@Module({
  imports: [ConnectionsModule],
  providers: [
    RoomsService,
    RoomHub,
    { provide: RoomStore, useClass: InMemoryRoomStore },
    { provide: RoomBroker, useClass: InMemoryRoomBroker },
  ],
  exports: [RoomsService, RoomHub, RoomStore],
})
export class RoomsModule {}
