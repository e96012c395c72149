import type { AppConfig } from '../../src/config/app-config';
import { BridgeClient } from './bridge-client';
import { BridgeTestMethodsModule } from './bridge-methods';
import type { RecordingLogger } from './recording-logger';
import { RedisServer } from './redis-server';
import { RunningApp, startApp } from './test-app';

export interface BridgeApps {
  /** The suite's redis-server (started before its first test). */
  readonly redis: RedisServer;
  /** Settings of a test's own: Redis, a key prefix and request / dead-letter streams. */
  setting(overrides?: Partial<AppConfig>): Partial<AppConfig>;
  /** An instance with the bridge's test methods, closed after the test. */
  instance(settings: Partial<AppConfig>, logger?: RecordingLogger): Promise<RunningApp>;
  /** A backend writing to the settings' stream and reading replies, closed after the test. */
  clientOf(settings: Partial<AppConfig>): BridgeClient;
  /** Closes the test's instances now (before it stops a Redis of its own they use). */
  closeInstances(): Promise<void>;
}

let suites = 0;

/**
 * The fixture of the bridge suites, registered in the calling `describe`: one redis-server for
 * the suite, and per test its own names, its instances and its backend clients, closed after it
 * (a redis-server a test stalled is resumed first).
 */
export function useBridgeApps(label: string): BridgeApps {
  let redis: RedisServer | undefined;
  const running: RunningApp[] = [];
  const clients: BridgeClient[] = [];
  const server = (): RedisServer => {
    if (!redis) throw new Error('the suite’s redis-server is not started yet');
    return redis;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const closeInstances = async (): Promise<void> => {
    await Promise.all(running.splice(0).map((app) => app.close()));
  };
  afterEach(async () => {
    redis?.resume();
    await closeInstances();
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  return {
    get redis() {
      return server();
    },
    setting(overrides = {}) {
      suites += 1;
      const name = `${label}-${process.pid}-${suites}`;
      return {
        REDIS_URL: server().url,
        REDIS_KEY_PREFIX: `${name}:`,
        RPC_REQUEST_STREAM: `${name}-requests`,
        RPC_DEAD_LETTER_STREAM: `${name}-requests:dlq`,
        ...overrides,
      };
    },
    async instance(settings, logger) {
      const app = await startApp(settings, { imports: [BridgeTestMethodsModule], logger });
      running.push(app);
      return app;
    },
    clientOf(settings) {
      const client = new BridgeClient(
        server().url,
        settings.RPC_REQUEST_STREAM ?? 'stream:requests',
        settings.RPC_CONSUMER_GROUP ?? 'rpc_group',
        settings.RPC_DEAD_LETTER_STREAM,
      );
      clients.push(client);
      return client;
    },
    closeInstances,
  };
}
