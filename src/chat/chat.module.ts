import { Module } from '@nestjs/common';
import { TransportModule } from '../transport/transport.module';
import { ChatGateway } from './chat.gateway';

@Module({
  imports: [TransportModule],
  providers: [ChatGateway],
})
export class ChatModule {}
