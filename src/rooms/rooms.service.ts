import { Inject, Injectable, Logger } from '@nestjs/common';
import { frames } from '../protocol/chat.protocol';
import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';
import { AppConfig } from '../config/app-config';
import type { Connection } from '../transport/connection';
import { BrokerUnavailableError, RoomBroker } from './room-broker';
import { RoomHub } from './room-hub';
import { RoomStore } from './room-store';

/**
 * Room membership and messaging for connections. A connection is in at most one room; a user may
 * have many connections. Every operation on one connection runs after the previous one settled.
 */
@Injectable()
export class RoomsService {
  private readonly logger = new Logger(RoomsService.name);

  constructor(
    @Inject(RoomStore) private readonly store: RoomStore,
    @Inject(RoomBroker) private readonly broker: RoomBroker,
    private readonly hub: RoomHub,
    private readonly config: AppConfig,
  ) {}

  /**
   * Joins `roomId` (default: the user's own room). Binds the connection to `userId` on first use.
   * Joining the current room again only repeats `joined`; joining another room switches to it.
   */
  join(connection: Connection, userId: string, roomId: string = userId): Promise<void> {
    return connection.serialize(async () => {
      this.assertUser(connection, userId);
      if (connection.roomId === roomId) {
        connection.sendFrame(frames.joined(userId, roomId));
        return;
      }
      if (connection.roomId !== undefined) await this.leaveCurrentRoom(connection);
      await this.enter(connection, userId, roomId);
    });
  }

  /** Leaves the current room (if any) and joins `roomId`, exactly as `join` does. */
  switchRoom(connection: Connection, userId: string, roomId: string): Promise<void> {
    return this.join(connection, userId, roomId);
  }

  /** Broadcasts `content` to every connection in the sender's room, the sender's included. */
  sendMessage(connection: Connection, userId: string, content: string): Promise<void> {
    return connection.serialize(async () => {
      const roomId = connection.roomId;
      if (roomId === undefined) {
        throw new ChatError(ErrorCode.NotJoined, 'join a room before sending chat messages');
      }
      this.assertUser(connection, userId);
      if (exceedsCodePoints(content, this.config.MAX_MESSAGE_LENGTH)) {
        throw new ChatError(
          ErrorCode.InvalidMessage,
          `content must be at most ${this.config.MAX_MESSAGE_LENGTH} characters`,
        );
      }
      const frame = frames.chatMessage(userId, roomId, content, new Date());
      await this.publish(roomId, JSON.stringify(frame));
    });
  }

  /** Answers who is in `roomId` (default: the current room), from the store's cluster-wide view. */
  presence(connection: Connection, roomId: string | undefined): Promise<void> {
    return connection.serialize(async () => {
      const room = roomId ?? connection.roomId;
      if (room === undefined) {
        throw new ChatError(ErrorCode.NotJoined, 'join a room or name one with roomId');
      }
      const members = await this.store.members(room);
      const users = members.map((m) => ({ ...m, since: m.since.toISOString() }));
      connection.sendFrame(frames.presence(room, users));
    });
  }

  /** A closed connection leaves its room as `switch_room` would. Safe to call more than once. */
  disconnect(connection: Connection): Promise<void> {
    return connection.serialize(async () => {
      if (connection.roomId !== undefined) await this.leaveCurrentRoom(connection);
    });
  }

  /** Publishes a serialized room frame; a broker that cannot is the sender's to retry. */
  private async publish(roomId: string, frame: string): Promise<void> {
    try {
      await this.broker.publish(roomId, { kind: 'frame', frame });
    } catch (error) {
      if (!(error instanceof BrokerUnavailableError)) throw error;
      throw new ChatError(ErrorCode.Unavailable, 'the message could not be delivered; retry', {
        retryable: true,
      });
    }
  }

  private assertUser(connection: Connection, userId: string): void {
    if (connection.userId !== undefined && connection.userId !== userId) {
      throw new ChatError(
        ErrorCode.UserMismatch,
        'userId differs from the user this connection joined as',
      );
    }
  }

  private async enter(connection: Connection, userId: string, roomId: string): Promise<void> {
    const member = { userId, connectionId: connection.id };
    // Subscribed before the membership is visible, so no frame of the room can be missed.
    await this.broker.subscribe(roomId);
    try {
      // The store announces user_joined to the others when this is the user's first connection.
      await this.store.add(roomId, member);
    } catch (error) {
      await this.broker.unsubscribe(roomId);
      throw error;
    }
    connection.userId = userId;
    connection.roomId = roomId;
    this.hub.add(roomId, connection);
    connection.sendFrame(frames.joined(userId, roomId));
    this.logger.debug(`connection ${connection.id} (${userId}) joined ${roomId}`);
  }

  private async leaveCurrentRoom(connection: Connection): Promise<void> {
    const roomId = connection.roomId;
    const userId = connection.userId;
    if (roomId === undefined || userId === undefined) return;
    connection.roomId = undefined;
    this.hub.remove(roomId, connection);
    await this.broker.unsubscribe(roomId);
    const member = { userId, connectionId: connection.id };
    await this.store.remove(roomId, member);
    this.logger.debug(`connection ${connection.id} (${userId}) left ${roomId}`);
  }
}

/** True when `text` has more than `max` code points; counts only when UTF-16 length exceeds it. */
export function exceedsCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let count = 0;
  for (const _ of text) {
    if (++count > max) return true;
  }
  return false;
}
