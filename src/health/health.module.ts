import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TransportModule } from '../transport/transport.module';
import { ChatHealthIndicator } from './chat.health';
import { HealthController } from './health.controller';
import { DependencyHealthIndicator } from './dependency.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), TransportModule],
  controllers: [HealthController],
  providers: [ChatHealthIndicator, DependencyHealthIndicator],
})
export class HealthModule {}
