import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TransportModule } from '../transport/transport.module';
import { BridgeHealthIndicator } from './bridge.health';
import { ChatHealthIndicator } from './chat.health';
import { HealthController } from './health.controller';
import { DependencyHealthIndicator } from './dependency.health';
import { KeySetHealthIndicator } from './key-set.health';
import { ServerFigures } from './server-figures';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), TransportModule],
  controllers: [HealthController],
  providers: [
    ChatHealthIndicator,
    DependencyHealthIndicator,
    BridgeHealthIndicator,
    KeySetHealthIndicator,
    ServerFigures,
  ],
})
export class HealthModule {}
