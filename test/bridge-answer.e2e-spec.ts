import { useBridgeApps } from './support/bridge-apps';
import Redis from 'ioredis';
import { RedisConnections } from '../src/redis/redis-connections';
import { SentCall } from './support/bridge-client';
import { BridgeTestMethods } from './support/bridge-methods';
import { eventually } from './support/eventually';
import { RecordingLogger } from './support/recording-logger';
import { describeWithRedis } from './support/redis-server';
import { roomEvents } from './support/room-history';

/*
 * What the bridge answers, and where: replies only to lists under RPC_REPLY_PREFIX (no backend
 * entry can change a key the server owns), dedup records only for requests waiting for a reply,
 * and a Redis stall (SIGSTOP/SIGCONT of redis-server) mid-drain answered `unavailable`, never
 * stored, with nothing published twice.
 */

describeWithRedis('bridge: what it answers, and Redis stalls', () => {
  const bridge = useBridgeApps('answer');
  const { setting, instance, clientOf } = bridge;

  /** Type, whether it expires, and size: what a write to the key would change. */
  async function stateOf(client: Redis, key: string): Promise<string> {
    const type = await client.type(key);
    const expires = (await client.pttl(key)) >= 0 ? 'expires' : 'persistent';
    const size: Record<string, () => Promise<number>> = {
      stream: () => client.xlen(key),
      list: () => client.llen(key),
      set: () => client.scard(key),
      hash: () => client.hlen(key),
      string: () => client.strlen(key),
    };
    return `${type} ${expires} ${await (size[type]?.() ?? Promise.resolve(0))}`;
  }

  it('dead-letters, unanswered, a reply_to naming the request stream, a room’s key, a per-user count key or a dedup record, and leaves each key as it was', async () => {
    const settings = setting();
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const app = await instance(settings);
    const client = clientOf(settings);
    const event = (workspace: string, path: string, replyTo?: string | null) =>
      client.send({
        method: 'workspace.file_changed',
        params: { workspace_id: workspace, file_path: path, event_type: 'modify' },
        replyTo,
      });

    // A room with history, a dedup record, and a per-user count key of this instance.
    const first = await event('victim', 'a');
    await client.reply(first);
    const instanceId = app.app.get(RedisConnections).instanceId;
    const victims = {
      stream: settings.RPC_REQUEST_STREAM ?? '',
      roomMeta: `${prefix}{workspace:victim}:meta`,
      roomHistory: `${prefix}{workspace:victim}:hist`,
      userCount: `${prefix}{#i:${instanceId}}:u:victim`,
      dedupRecord: `${prefix}{#rpc:${first.correlationId}}:record`,
      // Absent until the server writes it: a list there would refuse the room's first publish.
      freshRoom: `${prefix}{workspace:fresh}:meta`,
    };
    await client.redis.sadd(victims.userCount, 'c1', 'c2');
    await client.settled();
    const before = new Map<string, string>();
    for (const key of Object.values(victims)) before.set(key, await stateOf(client.redis, key));
    // Under the prefix but not a list: the request runs, nothing is pushed.
    const notAList = `list:response:not-a-list-${settings.REDIS_KEY_PREFIX}`;
    await client.redis.set(notAList, 'kept');

    const bad: SentCall[] = [];
    for (const key of Object.values(victims)) bad.push(await event('victim', 'b', key));
    const wrongType = await event('other', 'c', notAList);
    // Requests queued behind them are all handled: the stream was not expired under them.
    const queued: SentCall[] = [];
    for (let i = 0; i < 20; i++) queued.push(await event(`q${i % 4}`, `q${i}`));
    for (const sent of queued) expect(await client.reply(sent)).toMatchObject({ success: true });
    await client.settled();

    expect(await client.redis.pttl(victims.stream)).toBe(-1);
    for (const key of Object.values(victims).slice(1)) {
      expect(`${key}: ${await stateOf(client.redis, key)}`).toBe(`${key}: ${before.get(key)}`);
    }
    expect(await client.redis.get(notAList)).toBe('kept');
    expect(await client.redis.pttl(notAList)).toBe(-1);
    const letters = await client.deadLetterEntries();
    expect(letters).toHaveLength(bad.length);
    for (const letter of letters) {
      expect(letter.reason).toBe('invalid_request');
      expect(letter.error).toContain('reply_to: must start with "list:response:"');
    }
    // Dead-lettered entries are not run; the one whose list is not a list is.
    const paths = async (room: string): Promise<unknown[]> =>
      (await roomEvents(client.redis, prefix, room)).map((kept) => kept.data.file_path);
    expect(await paths('workspace:victim')).toEqual(['a']);
    expect(await paths('workspace:other')).toEqual(['c']);
    expect(await client.reply(await event('fresh', 'd'))).toMatchObject({ success: true });
    expect(wrongType.replyTo).toBe(notAList);
  });

  it('answers the reply lists of a configured RPC_REPLY_PREFIX, and only those', async () => {
    const settings = setting({ RPC_REPLY_PREFIX: 'replies:' });
    await instance(settings);
    const client = clientOf(settings);

    const ours = await client.send({
      method: 'test.echo',
      replyTo: `replies:${settings.REDIS_KEY_PREFIX}`,
    });
    const seeds = await client.send({ method: 'test.echo' });

    expect(await client.reply(ours)).toMatchObject({ success: true });
    await client.settled();
    expect(await client.redis.exists(seeds.replyTo ?? '')).toBe(0);
    expect((await client.deadLetterEntries()).map((letter) => letter.reason)).toEqual([
      'invalid_request',
    ]);
  });

  it('keeps dedup records only for requests waiting for a reply; a redelivered fire-and-forget publishes once', async () => {
    const settings = setting();
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const app = await instance(settings);
    const client = clientOf(settings);
    const record = (sent: SentCall): string => `${prefix}{#rpc:${sent.correlationId}}:record`;
    const file = (correlationId: string, timeout: number, replyTo?: null) =>
      client.send({
        method: 'workspace.file_changed',
        params: { workspace_id: 'ff', file_path: correlationId, event_type: 'create' },
        correlationId,
        timeout,
        replyTo,
      });

    const noList = await client.send({ method: 'test.echo', params: { key: 'n' }, replyTo: null });
    const noWait = await client.send({ method: 'test.echo', params: { key: 'z' }, timeout: 0 });
    const waited = await client.send({ method: 'test.echo', params: { key: 'w' } });
    const once = await file('ff-1', 0);
    await file('ff-1', 0, null);
    await client.reply(waited);
    await client.settled();

    const methods = app.app.get(BridgeTestMethods);
    expect([methods.runsOf('n'), methods.runsOf('z'), methods.runsOf('w')]).toEqual([1, 1, 1]);
    expect(await client.redis.exists(record(noList), record(noWait), record(once))).toBe(0);
    expect(await client.redis.exists(record(waited))).toBe(1);
    const events = await roomEvents(client.redis, prefix, 'workspace:ff');
    expect(events.map((kept) => kept.data.file_path)).toEqual(['ff-1']);
  });

  it('answers unavailable (retryable) and stores nothing when a method’s own Redis command fails for want of Redis; the retry runs', async () => {
    const settings = setting();
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const logger = new RecordingLogger();
    const app = await instance(settings, logger);
    const client = clientOf(settings);
    const { command } = app.app.get(RedisConnections);
    const call = { method: 'test.redis_read', params: { key: 'x' }, correlationId: 'read-1' };

    // The shared connection down, the bridge's own up: the method's read fails, its answer is pushed.
    command.disconnect();
    const failed = await client.reply(await client.send(call));
    await client.settled();
    expect(failed).toMatchObject({
      error_code: 'unavailable',
      error: { code: 'unavailable', retryable: true },
    });
    expect(await client.redis.exists(`${prefix}{#rpc:read-1}:record`)).toBe(0);
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);

    await command.connect();
    const retried = await client.send({ ...call, replyTo: 'list:response:read-1-retry' });
    expect(await client.reply(retried)).toMatchObject({ success: true });
  });

  it('answers a Redis stall mid-drain unavailable (retryable), stores no error, publishes each event once, and a retry succeeds', async () => {
    const settings = setting({ HISTORY_SIZE: 2_000, RPC_VISIBILITY_TIMEOUT_MS: 1_000 });
    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const logger = new RecordingLogger();
    await instance(settings, logger);
    const client = clientOf(settings);
    const total = 2_000;
    const rooms = 10;
    /** Every fifth reads Redis itself, every tenth is fire-and-forget, the others publish. */
    const call = (n: number, replyTo?: string) =>
      n % 5 === 0
        ? { method: 'test.redis_read', params: { key: `r${n}` }, replyTo }
        : {
            method: 'workspace.file_changed',
            params: { workspace_id: `w${n % rooms}`, file_path: `f${n}`, event_type: 'modify' },
            timeout: n % 10 === 1 ? 0 : 30,
            replyTo,
          };
    const ids = Array.from({ length: total }, (_, n) => `stall-${prefix}${n}`);
    const pipeline = client.redis.pipeline();
    ids.forEach((correlationId, n) => {
      const { method, params, timeout, replyTo } = call(n);
      const payload = {
        type: 'rpc',
        method,
        params,
        correlation_id: correlationId,
        ...(timeout !== 0 && { reply_to: replyTo ?? `list:response:${correlationId}` }),
        timeout: timeout ?? 30,
      };
      pipeline.xadd(client.stream, '*', 'payload', JSON.stringify(payload));
    });
    await pipeline.exec();
    const answered = ids.filter((_, n) => call(n).timeout !== 0);

    await eventually(
      'a quarter of the requests handled',
      () => client.redis.llen(`list:response:${ids[total / 4]}`),
      {
        timeoutMs: 30_000,
        intervalMs: 5,
      },
    );
    const linesBefore = logger.lines.length;
    bridge.redis.pause();
    // Long enough for the server's command timeout (1.5 s) and socket timeout (2 s) to fire.
    // Stalled until the server's socket timeout (2 s) dropped the bridge's connection.
    await eventually(
      'the bridge to lose its connection to the stalled Redis',
      () => logger.lines.slice(linesBefore).some((line) => /connection lost/.test(line.message)),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    bridge.redis.resume();

    const replies = new Map<string, Record<string, unknown>>();
    for (const id of answered)
      replies.set(
        id,
        await client.reply(
          { correlationId: id, replyTo: `list:response:${id}`, entryId: '' },
          60_000,
        ),
      );
    await client.settled(60_000);

    const failed = [...replies].filter(([, reply]) => reply.success !== true);
    for (const [, reply] of failed) {
      expect(reply).toMatchObject({ error_code: 'unavailable', error: { retryable: true } });
    }
    // No error is stored: every record is a success or gone.
    const stored = await Promise.all(
      answered.map((id) => client.redis.hget(`${prefix}{#rpc:${id}}:record`, 'r')),
    );
    expect(stored.filter((reply) => reply !== null && !reply.includes('"success":true'))).toEqual(
      [],
    );
    // Fire-and-forget requests keep no record.
    const unanswered = ids.filter((id) => !answered.includes(id));
    expect(
      await client.redis.exists(...unanswered.map((id) => `${prefix}{#rpc:${id}}:record`)),
    ).toBe(0);

    // The failed ones sent again under their correlation ids: each succeeds.
    const retries: SentCall[] = [];
    for (const [id] of failed) {
      const n = ids.indexOf(id);
      retries.push(
        await client.send({
          ...call(n),
          timeout: 30,
          correlationId: id,
          replyTo: `list:response:retry:${id}`,
        }),
      );
    }
    for (const sent of retries)
      expect(await client.reply(sent, 30_000)).toMatchObject({ success: true });
    await client.settled(30_000);

    // Each event published exactly once, fire-and-forget ones included.
    const published = new Map<string, number>();
    for (let room = 0; room < rooms; room++) {
      for (const kept of await roomEvents(client.redis, prefix, `workspace:w${room}`)) {
        const path = String(kept.data.file_path);
        published.set(path, (published.get(path) ?? 0) + 1);
      }
    }
    const events = ids.flatMap((_, n) => (n % 5 === 0 ? [] : [`f${n}`]));
    expect([...published.keys()].sort()).toEqual(events.sort());
    expect([...published.values()].filter((count) => count !== 1)).toEqual([]);
    // A bounded log: no stack trace, no line per request.
    const stallLines = logger.lines.slice(linesBefore).filter((line) => line.level !== 'debug');
    expect(stallLines.filter((line) => /\n\s+at /.test(line.message))).toEqual([]);
    expect(stallLines.length).toBeLessThan(40);
  }, 120_000);
});
