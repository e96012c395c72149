import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import Redis, { RedisOptions } from 'ioredis';
import { AppConfig } from '../config/app-config';

/** Longest wait between two reconnection attempts. */
export const RECONNECT_MAX_DELAY_MS = 2_000;

/**
 * The two connections an instance holds to Redis: one for commands, one in subscriber mode. Both
 * fail fast while Redis is away (no offline queue, one retry, a command timeout), so callers can
 * degrade to local delivery instead of piling up commands in memory.
 */
export class RedisClients {
  private readonly logger = new Logger(RedisClients.name);
  readonly command: Redis;
  readonly subscriber: Redis;
  /** This process in the cluster; its membership entries are tagged with it. */
  readonly instanceId = randomUUID();
  readonly prefix: string;
  private unresponsive = false;

  constructor(config: AppConfig) {
    this.prefix = config.REDIS_KEY_PREFIX;
    const options: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1_500,
      // A Redis that stalls (paused, blackholed) keeps the TCP connection open: without data for
      // this long while commands wait, the socket is dropped, pending commands fail, and the
      // instance serves locally until a reconnect succeeds. Commands are never re-sent.
      socketTimeout: 2_000,
      autoResendUnfulfilledCommands: false,
      connectTimeout: 5_000,
      // Reconnect forever, backing off to 2 s: the instance keeps serving its local members.
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), RECONNECT_MAX_DELAY_MS),
      // The broker re-subscribes its own rooms on 'ready', including those joined while away.
      autoResubscribe: false,
      lazyConnect: true,
    };
    this.command = new Redis(config.REDIS_URL, { ...options, connectionName: 'chat-command' });
    this.subscriber = new Redis(config.REDIS_URL, {
      ...options,
      connectionName: 'chat-subscriber',
    });
    for (const [name, client] of [
      ['command', this.command],
      ['subscriber', this.subscriber],
    ] as const) {
      // Without a listener ioredis would print every reconnect failure; one line per state change.
      client.on('error', (error: Error) => this.logger.debug(`Redis ${name}: ${error.message}`));
      client.on('ready', () => {
        if (this.command.status === 'ready' && this.subscriber.status === 'ready') {
          this.unresponsive = false;
        }
        this.logger.log(`Redis ${name} connection ready`);
      });
      client.on('end', () => this.logger.debug(`Redis ${name} connection ended`));
    }
  }

  /** Connects both clients; a Redis that is down at start is retried in the background. */
  async connect(): Promise<void> {
    await Promise.all(
      [this.command, this.subscriber].map((client) =>
        client.connect().catch((error: Error) => {
          this.logger.warn(`Redis unavailable at start (${error.message}); serving locally`);
        }),
      ),
    );
  }

  /** Both connections are up and Redis answered its last command in time. */
  get ready(): boolean {
    return (
      !this.unresponsive && this.command.status === 'ready' && this.subscriber.status === 'ready'
    );
  }

  /**
   * Reports a failed command. A timeout means Redis stalls (paused, partitioned) behind an open
   * TCP connection: both connections are dropped at once, which fails their queued commands (the
   * queue stays bounded) and makes the instance serve locally until a reconnect succeeds.
   */
  failed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.unresponsive || !/timed out|timeout/i.test(message)) return;
    this.unresponsive = true;
    this.logger.warn(`Redis does not answer (${message}); serving local members until it does`);
    this.command.disconnect(true);
    this.subscriber.disconnect(true);
  }

  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  async close(): Promise<void> {
    for (const client of [this.command, this.subscriber]) {
      // disconnect() on an ended client would leave a reconnect timer behind.
      if (client.status === 'end') continue;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    }
  }
}
