import { Module } from '@nestjs/common';
import { ConnectionsModule } from '../connections/connections.module';
import { RoomsModule } from '../rooms/rooms.module';
import { ChatGateway } from './chat.gateway';

@Module({
  imports: [ConnectionsModule, RoomsModule],
  providers: [ChatGateway],
})
export class ChatModule {}
