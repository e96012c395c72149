import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { RedisOptions } from 'ioredis';
import { LogThrottle } from '../common/log-throttle';
import { AppConfig } from '../config/app-config';
import { StartRefusedError } from '../lifecycle/start-refused.error';
import {
  type RedisClient,
  type RedisTarget,
  createRedisClient,
  isCluster,
  mastersConnected,
  redisTarget,
} from './redis-client';
import { RedisKeys } from './redis-keys';
import { type ScriptContext, defineScripts } from './redis-scripts';
import { RedisConnectionState, connectionState, redisErrorCode } from './redis-state';
import { redisVersionOf, redisVersionProblem } from './redis-version';

/** Longest wait between two reconnection attempts. */
export const RECONNECT_MAX_DELAY_MS = 2_000;

export interface ConnectionOptions {
  /**
   * For blocking reads (`XREADGROUP … BLOCK`, `BLPOP`): no command or socket timeout, so a read
   * that waits does not count as Redis stalling, and its failures never mark Redis unavailable.
   */
  blocking?: boolean;
  /**
   * Commands issued in one tick of the event loop go out in one write (ioredis'
   * enableAutoPipelining): for a connection many concurrent tasks send small commands on.
   */
  autoPipelining?: boolean;
}

/**
 * The instance's connections to Redis: one for commands and one in subscriber mode, shared by the
 * Redis implementations of the ports, plus dedicated connections made on request (`create`). The
 * shared two fail fast while Redis is away (no offline queue, one retry, a command timeout), so
 * callers degrade to local delivery instead of piling up commands in memory. Owns every
 * connection it made and closes them at shutdown, after the tasks registered with `beforeClose`.
 */
export class RedisConnections implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  /** Refusals (OOM, WRONGTYPE…) can come with every command: one line per kind and interval. */
  private readonly refusals = new LogThrottle(this.logger);
  readonly command: RedisClient;
  readonly subscriber: RedisClient;
  /** Where Redis is: REDIS_URL, or REDIS_CLUSTER_NODES' seeds. */
  readonly target: RedisTarget;
  /** Room channels go out with SPUBLISH and are read with SSUBSCRIBE (REDIS_SHARDED_PUBSUB). */
  readonly shardedPubSub: boolean;
  readonly keys: RedisKeys;
  /** What every Lua script is told: the key prefix and the history settings. */
  readonly scripts: ScriptContext;
  private readonly extra: RedisClient[] = [];
  private readonly closing: (() => Promise<void>)[] = [];
  private readonly baseOptions: RedisOptions;
  private unresponsive = false;
  private shuttingDown = false;
  /** Since when the shared connections have been unusable (undefined: they are fine). */
  private sharedDownSince: number | undefined;
  private sharedEverReady = false;

  /** `instanceId`: this process in the cluster; its membership entries are tagged with it. */
  constructor(
    private readonly config: AppConfig,
    readonly instanceId: string = randomUUID(),
  ) {
    this.keys = new RedisKeys(config.REDIS_KEY_PREFIX);
    this.target = redisTarget(config);
    this.shardedPubSub = config.REDIS_SHARDED_PUBSUB;
    this.scripts = {
      prefix: config.REDIS_KEY_PREFIX,
      ttlMs: config.HISTORY_TTL_MS,
      historySize: config.HISTORY_SIZE,
      historyMaxBytes: config.HISTORY_ROOM_MAX_BYTES,
    };
    this.baseOptions = {
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
    this.command = this.connection('command', this.baseOptions, true);
    // Here, where the pub/sub mode is known: the ports' own calls find the scripts defined.
    defineScripts(this.command, this.shardedPubSub);
    this.subscriber = this.connection('subscriber', this.baseOptions, true, this.shardedPubSub);
  }

  /**
   * Connects the shared clients; a Redis that is down at start is retried in the background. A
   * Redis that answers but is older than MIN_REDIS_VERSION stops the start (StartRefusedError,
   * every connection closed): its scripts would fail on the first message instead.
   */
  async connect(): Promise<void> {
    await Promise.all(
      [this.command, this.subscriber].map((client) =>
        client.connect().catch((error: Error) => {
          this.logger.warn(
            `Redis unavailable at start (${error.message}); membership is served locally and messages are refused until it answers`,
          );
        }),
      ),
    );
    if (this.command.status !== 'ready') return;
    const { command } = this;
    if (isCluster(command)) await mastersConnected(command, this.baseOptions.connectTimeout ?? 0);
    // On a cluster, every master must do: a room on an older one would fail its first message.
    const nodes = isCluster(command) ? command.nodes('master') : [command];
    const infos = await Promise.all(nodes.map((node) => node.info('server').catch(() => '')));
    const problem = infos.map((info) => redisVersionProblem(redisVersionOf(info))).find(Boolean);
    if (problem === undefined) return;
    this.shuttingDown = true;
    for (const client of [this.command, this.subscriber]) client.disconnect();
    throw new StartRefusedError(problem);
  }

  /**
   * A dedicated connection (for example for blocking stream reads), connecting in the background;
   * closed with the others at shutdown.
   */
  create(name: string, options: ConnectionOptions = {}): RedisClient {
    const redisOptions: RedisOptions = {
      ...this.baseOptions,
      ...(options.blocking && { commandTimeout: undefined, socketTimeout: undefined }),
      ...(options.autoPipelining && { enableAutoPipelining: true }),
    };
    const client = this.connection(name, redisOptions, false);
    this.extra.push(client);
    client.connect().catch(() => undefined);
    return client;
  }

  /** Both shared connections are up and Redis answered its last command in time. */
  get ready(): boolean {
    return (
      !this.unresponsive && this.command.status === 'ready' && this.subscriber.status === 'ready'
    );
  }

  /** The shared connections' state in our words: the worse of the two, or `not answering`. */
  get state(): RedisConnectionState {
    if (this.unresponsive) return 'not answering';
    const states = [this.command.status, this.subscriber.status].map(connectionState);
    return states.find((state) => state !== 'connected') ?? 'connected';
  }

  /**
   * Reports a failed command on a shared connection. A timeout means Redis stalls (paused,
   * partitioned) behind an open TCP connection: both connections are dropped at once, which
   * fails their queued commands (the queue stays bounded) and makes the instance serve locally
   * until a reconnect succeeds. Other errors (OOM, WRONGTYPE) are Redis refusing: logged. On a
   * cluster a timeout is one shard's: logged, the connections stay (see the first branch).
   */
  failed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (isCluster(this.command) && /timed out|timeout/i.test(message)) {
      // One shard stalling is not the cluster: its node's socket timeout drops that connection
      // and ioredis refreshes the slot map; the other shards' connections stay.
      this.refusals.warn(
        'A Redis Cluster node did not answer',
        `A Redis Cluster node did not answer in time: ${message}`,
      );
      return;
    }
    if (!/timed out|timeout/i.test(message)) {
      const code = redisErrorCode(message);
      const what = code ? `Redis refused a command (${code})` : 'A Redis command failed';
      this.refusals.warn(what, `${what}: ${message}`);
      return;
    }
    if (this.unresponsive) return;
    this.unresponsive = true;
    this.outage(
      `Redis does not answer (${message}); membership is served locally and messages refused until it does`,
    );
    this.command.disconnect(true);
    this.subscriber.disconnect(true);
  }

  /** `task` runs at shutdown while the connections are still open (leaving the cluster). */
  beforeClose(task: () => Promise<void>): void {
    this.closing.push(task);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.shuttingDown) return;
    for (const task of this.closing) await task().catch(() => undefined);
    this.shuttingDown = true;
    for (const client of [this.command, this.subscriber, ...this.extra]) {
      // disconnect() on an ended client would leave a reconnect timer behind.
      if (client.status === 'end') continue;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    }
  }

  /** Logs the start of an outage of the shared connections, once however many drop. */
  private outage(line: string): void {
    if (this.sharedDownSince !== undefined || !this.sharedEverReady || this.shuttingDown) return;
    this.sharedDownSince = Date.now();
    this.logger.warn(line);
  }

  /**
   * Logs an outage once when it starts (warn) and once when it ends (log), not each retry or each
   * connection: the shared pair is one dependency to an operator; a dedicated connection is its
   * own.
   */
  private connection(
    name: string,
    options: RedisOptions,
    shared: boolean,
    sharded = false,
  ): RedisClient {
    const named = { ...options, connectionName: `chat-${name}` };
    const client = createRedisClient(this.target, named, sharded);
    let downSince: number | undefined;
    let everReady = false;
    const lost = (why: string): void => {
      if (shared) {
        this.outage(
          `Redis connection lost (${why}); membership is served locally and messages refused until it returns`,
        );
        return;
      }
      if (downSince !== undefined || !everReady || this.shuttingDown) return;
      downSince = Date.now();
      this.logger.warn(`Redis ${name} connection lost (${why})`);
    };
    client.on('error', (error: Error) => {
      this.logger.debug(`Redis ${name}: ${error.message}`);
      // A cluster's errors are its nodes' (a failover, a shard subscriber that could not
      // connect); it is lost when it closes.
      if (!isCluster(client)) lost(error.message);
    });
    client.on('close', () => lost('connection closed'));
    client.on('ready', () => {
      if (shared) return this.sharedReady();
      if (downSince !== undefined) {
        this.logger.log(`Redis ${name} connection restored after ${secondsSince(downSince)} s`);
      }
      everReady = true;
      downSince = undefined;
    });
    return client;
  }

  private sharedReady(): void {
    if (this.command.status !== 'ready' || this.subscriber.status !== 'ready') return;
    this.unresponsive = false;
    if (this.sharedDownSince !== undefined) {
      this.logger.log(`Redis connection restored after ${secondsSince(this.sharedDownSince)} s`);
    } else if (!this.sharedEverReady) {
      this.logger.log('Redis connected');
    }
    this.sharedEverReady = true;
    this.sharedDownSince = undefined;
  }
}

function secondsSince(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}
