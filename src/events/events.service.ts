import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { UserConnections } from '../auth/user-connections';
import { AppConfig } from '../config/app-config';
import { ChatError } from '../protocol/chat-error';
import { CloseCode } from '../protocol/close-codes';
import { ErrorCode } from '../protocol/error-code';
import { eventFrames, type NotificationData } from '../protocol/event.protocol';
import type { Publication, PublicationData } from '../rooms/publication';
import type { Published } from './event-results';
import { BrokerUnavailableError, RoomBroker, type PublishResult } from '../rooms/room-broker';
import type { RpcCaller } from '../rpc/rpc-dispatcher';
import { idempotencyKeyOf } from '../rpc/rpc-idempotency';
import { SessionRegistry } from '../transport/session-registry';

/**
 * Rooms no client can name (`~` is not an id character), that every instance follows: what is
 * addressed to users, wherever their connections are, goes through them.
 */
export const USERS_ROOM = '~users';
export const EVERYONE_ROOM = '~all';

/** What goes to a user's connections on every instance: a frame, or a close. */
type UserPush = { user: string; frame: string } | { user: string; close: string };

export type { Published } from './event-results';

/**
 * The IDE's events: room events published like chat (numbered, kept, recoverable), and pushes
 * to users and to everyone, carried between instances by the broker through USERS_ROOM and
 * EVERYONE_ROOM and written by each instance to its own connections.
 *
 * Each method takes the RPC caller it runs for (optional): a call with an idempotency key
 * (`RpcCaller.idempotencyKey`) publishes once per room within IDEMPOTENCY_WINDOW_MS, so a re-run
 * of it publishes nothing and answers the first position. A publish the broker cannot make is
 * refused with a retryable `unavailable` ChatError: nothing is delivered to anyone then.
 */
@Injectable()
export class EventsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(EventsService.name);

  constructor(
    @Inject(RoomBroker) private readonly broker: RoomBroker,
    @Inject(UserConnections) private readonly users: UserConnections,
    private readonly registry: SessionRegistry,
    private readonly config: AppConfig,
  ) {
    broker.onPublication((publication) => this.receive(publication));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.broker.subscribe(USERS_ROOM);
    await this.broker.subscribe(EVERYONE_ROOM);
  }

  /**
   * Broadcasts `{type:"event", event, roomId, offset, epoch, timestamp, data}` to the room. A
   * frame over MAX_EVENT_BYTES is refused (`invalid_message`, `invalid_params` over RPC) before
   * anything is published: no member, history or replay ever carries one.
   */
  async publish(event: string, room: string, data: object, caller?: RpcCaller): Promise<Published> {
    const frame = eventFrames.event(event, room, data, new Date());
    const bytes = Buffer.byteLength(frame);
    if (bytes > this.config.MAX_EVENT_BYTES) {
      throw new ChatError(
        ErrorCode.InvalidMessage,
        `the event is ${bytes} bytes, more than MAX_EVENT_BYTES (${this.config.MAX_EVENT_BYTES})`,
      );
    }
    const { offset, epoch } = await this.send(room, { kind: 'frame', frame }, caller);
    return { room, offset, epoch };
  }

  /**
   * Pushes a notification to every connection of `userId`, cluster-wide; resolves with how many
   * connections the user holds (counted where the count is kept: the UserConnections port).
   */
  async notify(userId: string, data: NotificationData, caller?: RpcCaller): Promise<number> {
    const delivered = await this.connectionsOf(userId);
    await this.push({ user: userId, frame: eventFrames.notification(data, new Date()) }, caller);
    return delivered;
  }

  /** Pushes a notification to every connection of every instance. */
  async broadcast(data: NotificationData, caller?: RpcCaller): Promise<void> {
    const frame = eventFrames.notification(data, new Date());
    await this.send(EVERYONE_ROOM, { kind: 'frame', frame }, caller);
  }

  /** Closes every connection of `userId`, cluster-wide, with 4500 (do not reconnect); resolves with how many. */
  async disconnect(userId: string, reason: string, caller?: RpcCaller): Promise<number> {
    const count = await this.connectionsOf(userId);
    await this.push({ user: userId, close: reason }, caller);
    return count;
  }

  /** The connections `userId` holds; a count the store cannot give is `unavailable` (nothing sent yet). */
  private async connectionsOf(userId: string): Promise<number> {
    try {
      return await this.users.count(userId);
    } catch {
      throw unavailable();
    }
  }

  private async push(push: UserPush, caller: RpcCaller | undefined): Promise<void> {
    await this.send(USERS_ROOM, { kind: 'frame', frame: JSON.stringify(push) }, caller);
  }

  /** Publishes with the caller's idempotency key; a broker that cannot is `unavailable`. */
  private async send(
    room: string,
    data: PublicationData,
    caller: RpcCaller | undefined,
  ): Promise<PublishResult> {
    try {
      return await this.broker.publish(room, data, {
        idempotencyKey: idempotencyKeyOf(caller),
        onOrdered: caller?.onOrdered,
      });
    } catch (error) {
      if (!(error instanceof BrokerUnavailableError)) throw error;
      throw unavailable();
    }
  }

  private receive({ roomId, data }: Publication): void {
    if (data.kind !== 'frame') return;
    if (roomId === EVERYONE_ROOM) {
      const encoded = Buffer.from(data.frame);
      // Not to a connection still to send its token (AUTH_MODE=jwt): it is nobody yet.
      for (const session of this.registry) if (!session.awaitingAuth) session.send(encoded);
      return;
    }
    if (roomId !== USERS_ROOM) return;
    const push = parsePush(data.frame);
    if (!push) {
      this.logger.warn('Dropped a malformed push');
      return;
    }
    for (const session of this.registry.sessionsOf(push.user)) {
      if ('frame' in push) session.send(push.frame);
      else session.evict(CloseCode.DisconnectedByBackend, push.close);
    }
  }
}

function unavailable(): ChatError {
  return new ChatError(ErrorCode.Unavailable, 'the event could not be published; retry', {
    retryable: true,
  });
}

function parsePush(text: string): UserPush | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (typeof value.user !== 'string') return undefined;
    if (typeof value.frame === 'string') return { user: value.user, frame: value.frame };
    if (typeof value.close === 'string') return { user: value.user, close: value.close };
  } catch {
    return undefined;
  }
  return undefined;
}
