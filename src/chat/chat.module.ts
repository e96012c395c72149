import { Module } from '@nestjs/common';
import { TransportModule } from '../transport/transport.module';
import { RoomsModule } from '../rooms/rooms.module';
import { ChatGateway } from './chat.gateway';

@Module({
  imports: [TransportModule, RoomsModule],
  providers: [ChatGateway],
})
export class ChatModule {}
