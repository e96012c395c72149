import { Injectable } from '@nestjs/common';
import type { RoomFrame } from '../protocol/chat.protocol';
import type { RoomBroker } from './room-broker';
import { RoomHub } from './room-hub';

/** Single-instance fan-out: every member is local, so publishing is delivering. */
@Injectable()
export class InMemoryRoomBroker implements RoomBroker {
  constructor(private readonly hub: RoomHub) {}

  publish(roomId: string, frame: RoomFrame, exceptUserId?: string): Promise<void> {
    this.hub.deliver(roomId, JSON.stringify(frame), exceptUserId);
    return Promise.resolve();
  }

  subscribe(): Promise<void> {
    return Promise.resolve();
  }

  unsubscribe(): Promise<void> {
    return Promise.resolve();
  }
}
