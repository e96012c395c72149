import { Logger, OnModuleInit } from '@nestjs/common';
import type { RoomFrame } from '../chat/chat.protocol';
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
 * Message on the wire: "<except connection id>\n<frame JSON>", the frame serialized once.
 */
export class RedisRoomBroker implements RoomBroker, OnModuleInit {
  private readonly logger = new Logger(RedisRoomBroker.name);
  /** Local connections per room: subscribed while positive. */
  private readonly refs = new Map<string, number>();
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

  async publish(roomId: string, frame: RoomFrame, exceptConnectionId = ''): Promise<void> {
    const payload = JSON.stringify(frame);
    if (this.redis.ready) {
      try {
        await this.redis.command.publish(
          this.channelPrefix + roomId,
          `${exceptConnectionId}\n${payload}`,
        );
        return;
      } catch (error) {
        this.logger.warn(`Publish failed, delivering locally: ${(error as Error).message}`);
      }
    }
    this.hub.deliver(roomId, payload, exceptConnectionId);
  }

  async subscribe(roomId: string): Promise<void> {
    const count = (this.refs.get(roomId) ?? 0) + 1;
    this.refs.set(roomId, count);
    if (count === 1) await this.command('subscribe', roomId);
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
