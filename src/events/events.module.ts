import { Module } from '@nestjs/common';
import { TransportModule } from '../transport/transport.module';
import { EventMethods } from './event-methods';
import { EventsService } from './events.service';

/** Seed 003's methods and events, registered into the RPC registry with `@RpcMethod`. */
@Module({
  imports: [TransportModule],
  providers: [EventsService, EventMethods],
  exports: [EventsService],
})
export class EventsModule {}
