import type { RoomFrame } from '../protocol/chat.protocol';

/**
 * Fan-out of room frames to the member connections of a room, on this instance (in memory) or on
 * every instance (Redis). Implementations serialize each frame once, however many receivers.
 */
export interface RoomBroker {
  /**
   * Delivers `frame` to every connection in `roomId`, except the connections of `exceptUserId`
   * (a user is not told that they joined). Frames published by one caller to one room arrive in
   * the order of the calls.
   */
  publish(roomId: string, frame: RoomFrame, exceptUserId?: string): Promise<void>;

  /**
   * One more local connection is entering `roomId`: from the first one on, this instance receives
   * the room's frames. Reference counted; call it before the connection is added to the hub.
   */
  subscribe(roomId: string): Promise<void>;

  /** One local connection left `roomId`; after the last one the instance stops receiving it. */
  unsubscribe(roomId: string): Promise<void>;
}

/** Injection token of the RoomBroker port. */
export const RoomBroker = Symbol('RoomBroker');
