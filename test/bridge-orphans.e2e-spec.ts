import { AppConfig } from '../src/config/app-config';
import { BridgeClient } from './support/bridge-client';
import { BridgeTestMethodsModule } from './support/bridge-methods';
import { eventually } from './support/eventually';
import { RecordingLogger } from './support/recording-logger';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { roomEvents } from './support/room-history';
import { RunningApp, startApp } from './support/test-app';

/*
 * A Redis stall (SIGSTOP/SIGCONT of redis-server) mid-drain: the reads the bridge sent during the
 * stall time out in the server but still run in Redis once it resumes, taking entries for this
 * consumer that the bridge never receives. It takes them back at once and runs them: with a
 * visibility timeout far longer than the test, nothing else could. No request is answered
 * `timeout` without having run, none waits for the visibility timeout, each event is published
 * once.
 */

describeWithRedis('bridge: entries a read took during a Redis stall', () => {
  let redis: RedisServer;
  let app: RunningApp | undefined;
  let client: BridgeClient | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    redis.resume();
    await app?.close();
    await client?.close();
    await redis.stop();
  });

  it('are taken back and run at once: answered success or unavailable (retryable), never timeout, each event published once', async () => {
    const name = `orphans-${process.pid}`;
    const prefix = `${name}:`;
    const settings: Partial<AppConfig> = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      RPC_REQUEST_STREAM: `${name}-requests`,
      RPC_DEAD_LETTER_STREAM: `${name}-requests:dlq`,
      // Far longer than the test: only the bridge's taking back can bring those entries back.
      RPC_VISIBILITY_TIMEOUT_MS: 60_000,
      HISTORY_SIZE: 2_000,
    };
    const logger = new RecordingLogger();
    app = await startApp(settings, { imports: [BridgeTestMethodsModule], logger });
    client = new BridgeClient(redis.url, `${name}-requests`, 'rpc_group', `${name}-requests:dlq`);
    const bridge = client;

    const total = 3_000;
    const rooms = 10;
    const ids = Array.from({ length: total }, (_, n) => `orphan-${n}`);
    const pipeline = bridge.redis.pipeline();
    ids.forEach((correlationId, n) => {
      const payload = {
        type: 'rpc',
        method: 'workspace.file_changed',
        params: { workspace_id: `w${n % rooms}`, file_path: `f${n}`, event_type: 'modify' },
        correlation_id: correlationId,
        reply_to: `list:response:${correlationId}`,
        timeout: 20,
      };
      pipeline.xadd(bridge.stream, '*', 'payload', JSON.stringify(payload));
    });
    await pipeline.exec();

    await eventually(
      'a tenth of the requests handled',
      () => bridge.redis.llen(`list:response:${ids[total / 10]}`),
      { timeoutMs: 30_000, intervalMs: 5 },
    );
    const linesBefore = logger.lines.length;
    redis.pause();
    // Stalled until reads sent during the stall failed in the server (command timeout 1.5 s).
    await eventually(
      'a read of the bridge to fail against the stalled Redis',
      () =>
        logger.lines
          .slice(linesBefore)
          .some((line) => /Reading the request stream failed/.test(line.message)),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    redis.resume();

    // Well within the visibility timeout (60 s): nothing waits to be claimed.
    await bridge.settled(30_000);
    const replies = await Promise.all(
      ids.map(async (id) => (await bridge.replies(`list:response:${id}`, 1, 10_000))[0]),
    );
    const codes = new Map<string, number>();
    for (const reply of replies) {
      const code = reply.success === true ? 'success' : String(reply.error_code);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(
      [...codes.keys()].filter((code) => code !== 'success' && code !== 'unavailable'),
    ).toEqual([]);
    for (const reply of replies.filter((r) => r.success !== true)) {
      expect(reply).toMatchObject({ error: { code: 'unavailable', retryable: true } });
    }
    // One reply each.
    const lengths = await Promise.all(ids.map((id) => bridge.redis.llen(`list:response:${id}`)));
    expect(lengths.filter((length) => length !== 1)).toEqual([]);

    // Each event published at most once, and once for every request answered success.
    const published = new Map<string, number>();
    for (let room = 0; room < rooms; room++) {
      for (const kept of await roomEvents(bridge.redis, prefix, `workspace:w${room}`)) {
        const path = String(kept.data.file_path);
        published.set(path, (published.get(path) ?? 0) + 1);
      }
    }
    expect([...published.values()].filter((count) => count !== 1)).toEqual([]);
    const succeeded = ids.flatMap((_, n) => (replies[n].success === true ? [`f${n}`] : []));
    expect(succeeded.filter((path) => !published.has(path))).toEqual([]);
  }, 90_000);
});
