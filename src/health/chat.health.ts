import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { SessionRegistry } from '../transport/session-registry';
import { RoomHub } from '../rooms/room-hub';

/** Up with this instance's connection and room counts; down while draining. */
@Injectable()
export class ChatHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly registry: SessionRegistry,
    private readonly hub: RoomHub,
    private readonly shutdown: ShutdownState,
  ) {}

  check(key: string): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    const counts = { connections: this.registry.size, rooms: this.hub.roomCount };
    return this.shutdown.draining
      ? indicator.down({ ...counts, draining: true })
      : indicator.up(counts);
  }
}
