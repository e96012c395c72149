import type { RoomFrame } from '../chat/chat.protocol';

/**
 * Fan-out of room frames to the member connections of a room, on this instance (in memory) or on
 * every instance (Redis). Implementations serialize each frame once, however many receivers.
 */
export interface RoomBroker {
  /**
   * Delivers `frame` to every connection in `roomId`, except `exceptConnectionId`. Frames published
   * by one caller to one room arrive in the order of the calls.
   */
  publish(roomId: string, frame: RoomFrame, exceptConnectionId?: string): Promise<void>;

  /** This instance now has local members in `roomId` and must receive its frames. Idempotent. */
  subscribe(roomId: string): Promise<void>;

  /** This instance has no local member left in `roomId`. Idempotent. */
  unsubscribe(roomId: string): Promise<void>;
}

/** Injection token of the RoomBroker port. */
export const RoomBroker = Symbol('RoomBroker');
