import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TransportModule } from '../transport/transport.module';
import { RoomsModule } from '../rooms/rooms.module';
import { ChatHealthIndicator } from './chat.health';
import { HealthController } from './health.controller';
import { RedisHealthIndicator } from './redis.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), TransportModule, RoomsModule],
  controllers: [HealthController],
  providers: [ChatHealthIndicator, RedisHealthIndicator],
})
export class HealthModule {}
