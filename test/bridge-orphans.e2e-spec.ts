import { AppConfig } from '../src/config/app-config';
import { BridgeClient, Reply } from './support/bridge-client';
import { BridgeTestMethodsModule } from './support/bridge-methods';
import { eventually } from './support/eventually';
import { RecordingLogger } from './support/recording-logger';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { roomEvents } from './support/room-history';
import { RunningApp, startApp } from './support/test-app';

/*
 * A Redis stall (SIGSTOP/SIGCONT of redis-server) mid-drain: the reads the bridge sent during the
 * stall time out in the server but still run in Redis once it resumes, taking entries for this
 * consumer that the bridge never receives; entries whose take or finish timed out stay pending
 * on it too. It takes them back at once and runs them: with a visibility timeout far longer than
 * the test, nothing else could. No request is answered `timeout` without having run, none waits
 * for the visibility timeout, each event is published once.
 */

const ROOMS = 10;

describeWithRedis('bridge: entries a read took during a Redis stall', () => {
  let redis: RedisServer;
  const apps: RunningApp[] = [];
  const clients: BridgeClient[] = [];
  let suites = 0;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    redis.resume();
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  afterAll(async () => {
    await redis.stop();
  });

  /**
   * Writes `total` workspace.file_changed requests with `timeout`, stalls Redis once a tenth is
   * handled until a read of the bridge failed, and waits until nothing is pending (well within
   * the visibility timeout of 60 s); the replies, one per request.
   */
  async function drainWithStall(
    total: number,
    timeout: number,
  ): Promise<{ bridge: BridgeClient; prefix: string; ids: string[]; replies: Reply[] }> {
    suites += 1;
    const name = `orphans-${process.pid}-${suites}`;
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
    apps.push(await startApp(settings, { imports: [BridgeTestMethodsModule], logger }));
    const bridge = new BridgeClient(redis.url, `${name}-requests`, 'rpc_group');
    clients.push(bridge);

    const ids = Array.from({ length: total }, (_, n) => `${name}-${n}`);
    const pipeline = bridge.redis.pipeline();
    ids.forEach((correlationId, n) => {
      const payload = {
        type: 'rpc',
        method: 'workspace.file_changed',
        params: { workspace_id: `w${n % ROOMS}`, file_path: `f${n}`, event_type: 'modify' },
        correlation_id: correlationId,
        reply_to: `list:response:${correlationId}`,
        timeout,
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

    await bridge.settled(30_000);
    const replies = await Promise.all(
      ids.map(async (id) => (await bridge.replies(`list:response:${id}`, 1, 10_000))[0]),
    );
    // One reply each.
    const lengths = await Promise.all(ids.map((id) => bridge.redis.llen(`list:response:${id}`)));
    expect(lengths.filter((length) => length !== 1)).toEqual([]);
    return { bridge, prefix, ids, replies };
  }

  /** How often each request's event was published, by file path. */
  async function publications(bridge: BridgeClient, prefix: string): Promise<Map<string, number>> {
    const published = new Map<string, number>();
    for (let room = 0; room < ROOMS; room++) {
      for (const kept of await roomEvents(bridge.redis, prefix, `workspace:w${room}`)) {
        const path = String(kept.data.file_path);
        published.set(path, (published.get(path) ?? 0) + 1);
      }
    }
    return published;
  }

  it('are taken back and run at once: answered success or unavailable (retryable), never timeout, each event published once', async () => {
    const { bridge, prefix, ids, replies } = await drainWithStall(3_000, 20);
    const codes = replies.map((reply) =>
      reply.success === true ? 'success' : String(reply.error_code),
    );
    expect(codes.filter((code) => code !== 'success' && code !== 'unavailable')).toEqual([]);
    for (const reply of replies.filter((r) => r.success !== true)) {
      expect(reply).toMatchObject({ error: { code: 'unavailable', retryable: true } });
    }
    // Each event published at most once, and once for every request answered success.
    const published = await publications(bridge, prefix);
    expect([...published.values()].filter((count) => count !== 1)).toEqual([]);
    const succeeded = ids.flatMap((_, n) => (codes[n] === 'success' ? [`f${n}`] : []));
    expect(succeeded.filter((path) => !published.has(path))).toEqual([]);
  }, 90_000);

  it('answers one that expired meanwhile unavailable (retryable), frees its record, and its retry runs', async () => {
    // Expired by the time Redis is back: those read after it are answered timeout, as ever.
    const { bridge, prefix, ids, replies } = await drainWithStall(2_000, 1);
    const delayed = ids.filter((_, n) =>
      /until the request expired/.test(JSON.stringify(replies[n])),
    );
    expect(delayed.length).toBeGreaterThan(0);
    for (const id of delayed) {
      expect(replies[ids.indexOf(id)]).toMatchObject({
        error: { code: 'unavailable', retryable: true },
      });
    }
    // No record holds them: a retry under the same correlation id runs, and publishes once.
    const retries = await Promise.all(
      delayed.map((id) =>
        bridge.send({
          method: 'workspace.file_changed',
          params: {
            workspace_id: `w${ids.indexOf(id) % ROOMS}`,
            file_path: `f${ids.indexOf(id)}`,
            event_type: 'modify',
          },
          correlationId: id,
          replyTo: `list:response:retry:${id}`,
        }),
      ),
    );
    for (const sent of retries) {
      expect(await bridge.reply(sent, 20_000)).toMatchObject({ success: true });
    }
    const published = await publications(bridge, prefix);
    expect(delayed.filter((id) => published.get(`f${ids.indexOf(id)}`) !== 1)).toEqual([]);
  }, 90_000);
});
