import { Logger, OnModuleInit } from '@nestjs/common';
import type { RoomFrame } from '../protocol/chat.protocol';
import type { RoomBroker } from '../rooms/room-broker';
import { RoomHub } from '../rooms/room-hub';
import { RedisClients } from './redis-clients';

/**
 * Cross-instance fan-out over Redis pub/sub, one channel per room: an instance subscribes only to
 * the rooms it has local members in, so it never reads the traffic of other rooms. Every
 * instance, the publisher's included, delivers from its subscription, so all members of a room see
 * its frames in the one order Redis published them. While Redis is away, frames are delivered to
 * the local members only (degraded), and the rooms are subscribed again when it returns.
 *
 * Message on the wire: "<except userId>\n<frame JSON>", the frame serialized once. Membership
 * frames are published by the store's Lua scripts in the same format.
 */
export class RedisRoomBroker implements RoomBroker, OnModuleInit {
  private readonly logger = new Logger(RedisRoomBroker.name);
  /** Local connections per room: subscribed while positive. */
  private readonly refs = new Map<string, number>();
  /** SUBSCRIBE in flight per room: later joiners wait for it too. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly channelPrefix: string;

  constructor(
    private readonly redis: RedisClients,
    private readonly hub: RoomHub,
  ) {
    this.channelPrefix = redis.key('room', '');
  }

  onModuleInit(): void {
    this.redis.subscriber.on('message', (channel: string, message: string) =>
      this.receive(channel, message),
    );
    this.redis.subscriber.on('ready', () => this.resubscribe());
  }

  /**
   * With Redis away the frame goes to the local members only. A PUBLISH that fails once sent (a
   * timeout) may still be executed by Redis, so it is not delivered locally as well: pub/sub is
   * at most once, and a duplicate would break that promise.
   */
  async publish(roomId: string, frame: RoomFrame, exceptUserId = ''): Promise<void> {
    const payload = JSON.stringify(frame);
    if (!this.redis.ready) {
      this.hub.deliver(roomId, payload, exceptUserId || undefined);
      return;
    }
    try {
      await this.redis.command.publish(this.channelPrefix + roomId, `${exceptUserId}\n${payload}`);
    } catch (error) {
      this.redis.failed(error);
      this.logger.warn(`Publish to ${roomId} failed: ${(error as Error).message}`);
    }
  }

  async subscribe(roomId: string): Promise<void> {
    const count = (this.refs.get(roomId) ?? 0) + 1;
    this.refs.set(roomId, count);
    if (count === 1) {
      const subscribed = this.command('subscribe', roomId).finally(() => {
        if (this.pending.get(roomId) === subscribed) this.pending.delete(roomId);
      });
      this.pending.set(roomId, subscribed);
    }
    await this.pending.get(roomId);
  }

  async unsubscribe(roomId: string): Promise<void> {
    const count = (this.refs.get(roomId) ?? 0) - 1;
    if (count > 0) {
      this.refs.set(roomId, count);
      return;
    }
    this.refs.delete(roomId);
    await this.command('unsubscribe', roomId);
  }

  /** Rooms this instance receives. */
  get subscribedRooms(): number {
    return this.refs.size;
  }

  private receive(channel: string, message: string): void {
    if (!channel.startsWith(this.channelPrefix)) return;
    const roomId = channel.slice(this.channelPrefix.length);
    const newline = message.indexOf('\n');
    if (newline === -1) return;
    this.hub.deliver(roomId, message.slice(newline + 1), message.slice(0, newline) || undefined);
  }

  /** A failure is not the caller's: the room is re-subscribed when Redis is back. */
  private async command(verb: 'subscribe' | 'unsubscribe', roomId: string): Promise<void> {
    if (this.redis.subscriber.status !== 'ready') return;
    try {
      await this.redis.subscriber[verb](this.channelPrefix + roomId);
    } catch (error) {
      this.redis.failed(error);
      this.logger.warn(`Redis ${verb} ${roomId} failed: ${(error as Error).message}`);
    }
  }

  private resubscribe(): void {
    const channels = [...this.refs.keys()].map((roomId) => this.channelPrefix + roomId);
    if (channels.length === 0) return;
    this.redis.subscriber.subscribe(...channels).catch((error: Error) => {
      this.logger.warn(`Re-subscribing ${channels.length} room(s) failed: ${error.message}`);
    });
  }
}
