import { useBridgeApps } from './support/bridge-apps';
import { RpcBridge } from '../src/bridge/rpc-bridge';
import { ServerIdentity } from '../src/lifecycle/server-identity';
import { BridgeClient, SentCall } from './support/bridge-client';
import { BridgeGate, BridgeTestMethods, BridgeTestMethodsModule } from './support/bridge-methods';
import { eventually } from './support/eventually';
import { RecordingLogger } from './support/recording-logger';
import { RedisServer, describeWithRedis } from './support/redis-server';
import { roomEvents } from './support/room-history';
import { RunningApp, startApp } from './support/test-app';

/*
 * The backend bridge (issue 12, point 5) against a real redis-server: requests written the way
 * seed 003's Django client writes them, replies read from the reply lists, and the stream's
 * state (pending entries, dead letters) read back from Redis.
 */

describeWithRedis('backend bridge on Redis Streams', () => {
  const { setting, instance, clientOf, closeInstances } = useBridgeApps('bridge');

  const methodsOf = (app: RunningApp): BridgeTestMethods => app.app.get(BridgeTestMethods);

  it('answers a request on its reply list, which expires after RPC_RESPONSE_TTL_S', async () => {
    const settings = setting({ RPC_RESPONSE_TTL_S: 45 });
    const app = await instance(settings);
    const client = clientOf(settings);

    const sent = await client.send({ method: 'test.echo', params: { key: 'a', seq: 7 } });
    const reply = await client.reply(sent);

    expect(reply).toEqual({
      type: 'response',
      correlation_id: sent.correlationId,
      success: true,
      result: { echo: { key: 'a', seq: 7 }, server_id: expect.any(String) },
    });
    const ttl = await client.redis.ttl(sent.replyTo ?? '');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(45);
    await client.settled();
    expect(methodsOf(app).runsOf('a')).toBe(1);
  });

  it('answers errors with seed 003 error objects: RpcError, unknown method, a throw', async () => {
    const settings = setting();
    await instance(settings);
    const client = clientOf(settings);

    const failing = await client.send({ method: 'test.fail', params: { key: 'f' } });
    const unknown = await client.send({ method: 'no.such_method' });
    const throwing = await client.send({ method: 'test.throw', params: { key: 't' } });

    expect(await client.reply(failing)).toEqual({
      type: 'error',
      correlation_id: failing.correlationId,
      success: false,
      error: {
        code: 'user_not_connected',
        message: 'nobody of that name is connected',
        details: { user_id: 'ghost' },
        retryable: false,
      },
      error_code: 'user_not_connected',
    });
    expect(await client.reply(unknown)).toMatchObject({
      type: 'error',
      success: false,
      error: { code: 'method_not_found' },
      error_code: 'method_not_found',
    });
    // A fault of the server is answered generically: its message stays in the server's log.
    const thrown = await client.reply(throwing);
    expect(thrown).toMatchObject({ type: 'error', error_code: 'internal_error' });
    expect(JSON.stringify(thrown)).not.toContain('secret');
    // Answered is handled: nothing is left pending, nothing is dead-lettered.
    await client.settled();
    expect(await client.deadLetterEntries()).toEqual([]);
  });

  it('runs fire-and-forget requests (timeout 0, or no reply_to) without replying', async () => {
    const settings = setting();
    const app = await instance(settings);
    const client = clientOf(settings);

    const zero = await client.send({ method: 'test.echo', params: { key: 'z' }, timeout: 0 });
    await client.send({ method: 'test.echo', params: { key: 'n' }, replyTo: null });

    await eventually('both requests run', () => {
      const methods = methodsOf(app);
      return methods.runsOf('z') === 1 && methods.runsOf('n') === 1;
    });
    await client.settled();
    expect(await client.redis.exists(zero.replyTo ?? '')).toBe(0);
  });

  it('answers timeout, without running it, a request whose timeout passed before it was read', async () => {
    const settings = setting();
    const client = clientOf(settings);
    // Written 5 s ago with a timeout of 2 s: the caller gave up 3 s ago.
    const sent = await client.send({
      method: 'test.echo',
      params: { key: 'late' },
      timeout: 2,
      entryId: `${Date.now() - 5_000}-0`,
    });
    const app = await instance(settings);

    expect(await client.reply(sent)).toMatchObject({
      type: 'error',
      correlation_id: sent.correlationId,
      error: { code: 'timeout' },
      error_code: 'timeout',
    });
    await client.settled();
    expect(methodsOf(app).runsOf('late')).toBe(0);
  });

  it('dead-letters entries that are not JSON or not rpc requests, and answers those it can', async () => {
    const settings = setting();
    await instance(settings);
    const client = clientOf(settings);

    const notJson = await client.sendRaw('{"type":"rpc", oops');
    const noPayload = await client.sendRaw('x', '*', 'data');
    const notRpc = await client.sendRaw(
      JSON.stringify({ type: 'chat', correlation_id: 'c-1', reply_to: 'list:response:c-1' }),
    );

    const [reply] = await client.replies('list:response:c-1');
    expect(reply).toEqual({
      type: 'error',
      correlation_id: 'c-1',
      success: false,
      error: {
        code: 'invalid_params',
        message: 'the request is invalid',
        details: {
          validation_errors: [
            { field: 'type', error: 'must be "rpc"' },
            { field: 'method', error: expect.any(String) },
          ],
        },
        retryable: false,
      },
      error_code: 'invalid_params',
    });
    await client.settled();
    const letters = await eventually('three dead letters', () => client.deadLetterEntries(), {
      done: (entries) => entries.length === 3,
    });
    expect(letters.map((l) => [l.original_id, l.reason])).toEqual([
      [notJson, 'invalid_json'],
      [noPayload, 'invalid_json'],
      [notRpc, 'invalid_request'],
    ]);
    expect(letters[0].payload).toBe('{"type":"rpc", oops');
    expect(letters[2].error).toContain('type: must be "rpc"');
  });

  it('refuses a request over MAX_PAYLOAD_BYTES without running it: dead letter too_large, answered', async () => {
    const settings = setting({ MAX_PAYLOAD_BYTES: 4096 });
    const app = await instance(settings);
    const client = clientOf(settings);
    const big = 'x'.repeat(5000);
    const sent = await client.send({ method: 'test.echo', params: { key: big } });
    const reply = await client.reply(sent);
    expect(reply).toMatchObject({
      type: 'error',
      correlation_id: sent.correlationId,
      success: false,
      error: {
        code: 'invalid_params',
        details: {
          validation_errors: [
            {
              field: 'payload',
              error: expect.stringMatching(/^is \d+ bytes, more than MAX_PAYLOAD_BYTES \(4096\)$/),
            },
          ],
        },
      },
    });
    // A request within the limit still runs.
    const fitting = await client.send({ method: 'test.echo', params: { key: 'small' } });
    expect(await client.reply(fitting)).toMatchObject({ success: true });
    await client.settled();
    const [letter] = await client.deadLetterEntries();
    expect(letter).toMatchObject({ original_id: sent.entryId, reason: 'too_large' });
    expect(letter.payload.length).toBeLessThan(1_100);
    expect(methodsOf(app).runsOf(big)).toBe(0);
  });

  it('claims a request a dead consumer left pending after RPC_VISIBILITY_TIMEOUT_MS', async () => {
    const settings = setting({ RPC_VISIBILITY_TIMEOUT_MS: 300 });
    const client = clientOf(settings);
    await client.redis.xgroup('CREATE', client.stream, client.group, '0', 'MKSTREAM');
    const sent = await client.send({ method: 'test.echo', params: { key: 'orphan' } });
    // A consumer that reads the entry and dies before acknowledging it.
    await client.redis.xreadgroup(
      'GROUP',
      client.group,
      'dead',
      'COUNT',
      10,
      'STREAMS',
      client.stream,
      '>',
    );
    const app = await instance(settings);

    expect(await client.reply(sent)).toMatchObject({ type: 'response', success: true });
    await client.settled();
    expect(methodsOf(app).runsOf('orphan')).toBe(1);
  });

  it('keeps a slow request of a live instance from being claimed by another', async () => {
    const visibility = 200;
    const settings = setting({ RPC_VISIBILITY_TIMEOUT_MS: visibility });
    const first = await instance(settings);
    const gate = first.app.get(BridgeGate);
    gate.close();
    const client = clientOf(settings);
    const sent = await client.send({ method: 'test.gated', params: { key: 'slow' } });
    await eventually('the first instance to run it', () => gate.reached === 1);
    const second = await instance(settings);
    const owner = first.app.get(ServerIdentity).id;

    // Watch the entry for five visibility timeouts: it stays the first instance's, delivered once.
    const since = Date.now();
    await eventually(
      'five visibility timeouts with the entry kept',
      async () => {
        const [entry] = (await client.redis.xpending(
          client.stream,
          client.group,
          '-',
          '+',
          10,
        )) as [string, string, number, number][];
        expect(entry).toEqual([sent.entryId, owner, expect.any(Number), 1]);
        return Date.now() - since > 5 * visibility;
      },
      { timeoutMs: 20 * visibility },
    );

    gate.open();
    expect(await client.reply(sent)).toMatchObject({ type: 'response', success: true });
    await client.settled();
    expect(methodsOf(first).runsOf('slow')).toBe(1);
    expect(second.app.get(BridgeGate).reached).toBe(0);
  });

  it('forgets the consumers of instances gone for good, once nothing of theirs is pending', async () => {
    const settings = setting({ RPC_VISIBILITY_TIMEOUT_MS: 100 });
    const client = clientOf(settings);
    await client.redis.xgroup('CREATE', client.stream, client.group, '0', 'MKSTREAM');
    await client.redis.xgroup('CREATECONSUMER', client.stream, client.group, 'gone');
    const app = await instance(settings);
    const own = app.app.get(ServerIdentity).id;
    // Redis creates a consumer when it first gets an entry.
    await client.reply(await client.send({ method: 'test.echo' }));

    const names = async (): Promise<string[]> => {
      const consumers = (await client.redis.xinfo('CONSUMERS', client.stream, client.group)) as [
        string,
        string,
      ][];
      return consumers.map((consumer) => consumer[1]).sort();
    };
    await eventually('the dead consumer to be removed', names, {
      done: (now) => now.length === 1 && now[0] === own,
    });
  });

  it('dead-letters a request delivered more than RPC_MAX_DELIVERIES times, and answers it', async () => {
    const settings = setting({ RPC_VISIBILITY_TIMEOUT_MS: 200, RPC_MAX_DELIVERIES: 2 });
    const client = clientOf(settings);
    await client.redis.xgroup('CREATE', client.stream, client.group, '0', 'MKSTREAM');
    const sent = await client.send({ method: 'test.echo', params: { key: 'poison' } });
    // Two deliveries to consumers that died with it (a read, then a claim).
    await client.redis.xreadgroup('GROUP', client.group, 'dead-1', 'STREAMS', client.stream, '>');
    await client.redis.xclaim(client.stream, client.group, 'dead-2', 0, sent.entryId);
    const app = await instance(settings);

    expect(await client.reply(sent)).toMatchObject({
      type: 'error',
      correlation_id: sent.correlationId,
      error: { code: 'internal_error' },
    });
    await client.settled();
    const [letter] = await client.deadLetterEntries();
    expect(letter).toMatchObject({
      reason: 'max_deliveries',
      original_id: sent.entryId,
      deliveries: '3',
    });
    expect(JSON.parse(letter.payload)).toMatchObject({ correlation_id: sent.correlationId });
    expect(methodsOf(app).runsOf('poison')).toBe(0);
  });

  it('executes a duplicate correlation_id once and answers every copy with the same reply', async () => {
    const settings = setting();
    const app = await instance(settings);
    const gate = app.app.get(BridgeGate);
    gate.close();
    const client = clientOf(settings);

    // Two copies at once: the second waits for the first instead of running.
    const call = { method: 'test.gated', params: { key: 'dup' }, correlationId: 'dup-1' };
    const first = await client.send(call);
    await eventually('the first copy to run', () => gate.reached === 1);
    await client.send(call);
    gate.open();
    const [a, b] = await client.replies(first.replyTo ?? '', 2);
    // A third copy later is answered from the stored reply.
    await client.send(call);
    const replies = await client.replies(first.replyTo ?? '', 3);

    expect(b).toEqual(a);
    expect(replies[2]).toEqual(a);
    expect(a).toMatchObject({ type: 'response', correlation_id: 'dup-1', success: true });
    expect(methodsOf(app).runsOf('dup')).toBe(1);
    expect(gate.reached).toBe(1);
    await client.settled();
  });

  it('deduplicates across instances', async () => {
    const settings = setting();
    const apps = [await instance(settings), await instance(settings)];
    const client = clientOf(settings);

    const call = { method: 'test.slow', params: { key: 'x', ms: 50 }, correlationId: 'x-1' };
    const sent = await Promise.all([1, 2, 3, 4].map(() => client.send(call)));
    const replies = await client.replies(sent[0].replyTo ?? '', 4);

    expect(new Set(replies.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(apps.reduce((sum, app) => sum + methodsOf(app).runsOf('x'), 0)).toBe(1);
    await client.settled();
  });

  it('answers a duplicate waiting for its twin on another instance, holding no slot meanwhile', async () => {
    // One slot per instance: a duplicate that held its slot while waiting would stop the second.
    const settings = setting({ RPC_CONCURRENCY: 1 });
    const first = await instance(settings);
    const gate = first.app.get(BridgeGate);
    gate.close();
    const client = clientOf(settings);
    const call = { method: 'test.gated', params: { key: 'twin' }, correlationId: 'twin-1' };
    const twin = await client.send(call);
    await eventually('the first instance to run the twin', () => gate.reached === 1);
    const second = await instance(settings);

    // The first instance's one slot is taken: the second reads the copy, then another request.
    await client.send(call);
    const other = await client.send({ method: 'test.echo', params: { key: 'other' } });
    expect(await client.reply(other)).toMatchObject({ type: 'response', success: true });
    expect(methodsOf(second).runsOf('other')).toBe(1);
    expect(await client.redis.llen(twin.replyTo ?? '')).toBe(0);

    gate.open();
    const [a, b] = await client.replies(twin.replyTo ?? '', 2);
    expect(b).toEqual(a);
    expect(a).toMatchObject({ type: 'response', correlation_id: 'twin-1', success: true });
    expect(methodsOf(first).runsOf('twin') + methodsOf(second).runsOf('twin')).toBe(1);
    await client.settled();
  });

  it('answers a duplicate of a room request waiting on the same instance, holding no slot meanwhile', async () => {
    // Two slots: the twin holds one; a copy that waited behind it in its room's chain would hold
    // the other, and the request for another room would not be read until the gate opened.
    const settings = setting({ RPC_CONCURRENCY: 2 });
    const app = await instance(settings);
    const gate = app.app.get(BridgeGate);
    gate.close();
    const client = clientOf(settings);
    const call = {
      method: 'test.room_gated',
      params: { key: 'same', seq: 1 },
      correlationId: 'same-room-1',
    };
    const twin = await client.send(call);
    await eventually('the twin to run', () => gate.reached === 1);
    await client.send(call);
    const other = await client.send({ method: 'test.room_echo', params: { key: 'else', seq: 1 } });
    expect(await client.reply(other)).toMatchObject({ type: 'response', success: true });
    expect(await client.redis.llen(twin.replyTo ?? '')).toBe(0);

    gate.open();
    const [a, b] = await client.replies(twin.replyTo ?? '', 2);
    expect(b).toEqual(a);
    expect(a).toMatchObject({ type: 'response', correlation_id: 'same-room-1', success: true });
    expect(methodsOf(app).ran.filter((run) => run.startsWith('same:'))).toEqual(['same:1']);
    await client.settled();
  });

  it('does not store a retryable failure: it is answered, and a retry of its correlation_id runs', async () => {
    const settings = setting();
    const app = await instance(settings);
    const client = clientOf(settings);
    const call = { method: 'test.flaky', params: { key: 'flaky' }, correlationId: 'flaky-1' };

    const failed = await client.reply(await client.send(call));
    const retried = await client.send(call);
    const replies = await client.replies(retried.replyTo ?? '', 2);

    expect(failed).toMatchObject({
      type: 'error',
      error: { message: 'try again', retryable: true },
    });
    expect(replies[1]).toMatchObject({
      type: 'response',
      correlation_id: 'flaky-1',
      success: true,
    });
    expect(methodsOf(app).runsOf('flaky')).toBe(2);
    await client.settled();
  });

  it('publishes one event for a correlation_id sent twice at once and once more later, with equal results', async () => {
    const settings = setting();
    await instance(settings);
    const client = clientOf(settings);
    const call = {
      method: 'workspace.file_changed',
      params: { workspace_id: 'dup', file_path: 'src/once.ts', event_type: 'modify' },
      correlationId: 'event-1',
    };

    const [sent] = await Promise.all([client.send(call), client.send(call)]);
    await client.replies(sent.replyTo ?? '', 2);
    await client.send(call);
    const replies = await client.replies(sent.replyTo ?? '', 3);

    expect(replies[0]).toMatchObject({
      type: 'response',
      result: { room: 'workspace:dup', offset: expect.any(Number), epoch: expect.any(String) },
    });
    expect(replies[1]).toEqual(replies[0]);
    expect(replies[2]).toEqual(replies[0]);
    const events = await roomEvents(client.redis, settings.REDIS_KEY_PREFIX ?? '', 'workspace:dup');
    expect(events.map((e) => e.data.file_path)).toEqual(['src/once.ts']);
    await client.settled();
  });

  it('runs one room’s requests one after another, bridge and HTTP API alike, other rooms in parallel', async () => {
    const apiKey = 'bridge-api-key-0123456789';
    const settings = setting({ API_KEY: apiKey });
    const app = await instance(settings);
    const gate = app.app.get(BridgeGate);
    gate.close();
    const client = clientOf(settings);
    const http = (method: string, params: object): Promise<Response> =>
      fetch(`${app.httpUrl}/api/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ method, params }),
      });

    // Room test:one is held by its first request; what follows it there waits, in order.
    const held = await client.send({ method: 'test.room_gated', params: { key: 'one', seq: 1 } });
    await eventually('the first request to run', () => gate.reached === 1);
    const queued = await client.send({ method: 'test.room_echo', params: { key: 'one', seq: 2 } });
    await eventually(
      'the second to be read',
      async () => (await app.app.get(RpcBridge).status()).in_flight === 2,
    );
    const viaHttp = http('test.room_echo', { key: 'one', seq: 3 });
    // Room test:two runs meanwhile, over both paths.
    const other = await client.send({ method: 'test.room_echo', params: { key: 'two', seq: 1 } });
    expect(await client.reply(other)).toMatchObject({ success: true });
    expect((await http('test.room_echo', { key: 'two', seq: 2 })).status).toBe(200);
    const methods = methodsOf(app);
    expect(methods.ran).toEqual(['two:1', 'two:2']);

    gate.open();
    expect((await viaHttp).status).toBe(200);
    await Promise.all([client.reply(held), client.reply(queued)]);
    expect(methods.ran.filter((run) => run.startsWith('one:'))).toEqual([
      'one:1',
      'one:2',
      'one:3',
    ]);
  });

  it('publishes a room’s requests in stream order: 200 chunks sent fire-and-forget, RPC_CONCURRENCY 100', async () => {
    const settings = setting({ RPC_CONCURRENCY: 100, HISTORY_SIZE: 1_000 });
    await instance(settings);
    const client = clientOf(settings);
    const chunks = 200;

    // Written in one pipeline, nobody waiting: the instance reads them in batches of up to 100.
    const pipeline = client.redis.pipeline();
    for (let seq = 0; seq < chunks; seq++) {
      const params = {
        session_id: 's1',
        message_id: 'm1',
        role: 'assistant',
        content: `chunk ${seq}`,
        is_streaming: true,
        is_final: seq === chunks - 1,
        seq,
      };
      const payload = {
        type: 'rpc',
        method: 'session.message',
        params,
        correlation_id: `chunk-${seq}`,
        timeout: 0,
      };
      pipeline.xadd(client.stream, '*', 'payload', JSON.stringify(payload));
    }
    await pipeline.exec();

    const prefix = settings.REDIS_KEY_PREFIX ?? '';
    const events = await eventually(
      'every chunk published',
      () => roomEvents(client.redis, prefix, 'session:s1'),
      {
        done: (kept) => kept.length === chunks,
        timeoutMs: 20_000,
      },
    );
    expect(events.map((e) => e.data.seq)).toEqual(Array.from({ length: chunks }, (_, seq) => seq));
    await client.settled();
  });

  it('hands each request to one instance of two', async () => {
    const settings = setting({ RPC_CONCURRENCY: 4 });
    const apps = [await instance(settings), await instance(settings)];
    const client = clientOf(settings);

    const sent = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        client.send({
          method: 'test.slow',
          params: { key: `k${i}`, ms: 2 },
          replyTo: 'list:response:shared',
        }),
      ),
    );
    const replies = await client.replies('list:response:shared', 200);
    await client.settled();

    const answered = replies.map((r) => r.correlation_id).sort();
    expect(answered).toEqual(sent.map((s) => s.correlationId).sort());
    const runs = apps.map((app) => [...methodsOf(app).runs.values()].reduce((a, b) => a + b, 0));
    expect(runs[0] + runs[1]).toBe(200);
    // With four requests at a time each, both instances take part.
    expect(Math.min(...runs)).toBeGreaterThan(0);
  });

  it('finishes the requests in flight at shutdown, and reads no more', async () => {
    const settings = setting();
    const logger = new RecordingLogger();
    const app = await startApp(settings, { imports: [BridgeTestMethodsModule], logger });
    const gate = app.app.get(BridgeGate);
    gate.close();
    const client = clientOf(settings);
    const sent = await client.send({ method: 'test.gated', params: { key: 'last' } });
    await eventually('the request to run', () => gate.reached === 1);

    const closing = app.close();
    await eventually('the bridge to stop reading', () =>
      logger.lines.some((line) => line.message.includes('Finishing 1 request(s) in flight')),
    );
    const after = await client.send({ method: 'test.echo', params: { key: 'after' } });
    gate.open();
    await closing;

    expect(await client.reply(sent)).toMatchObject({ type: 'response', success: true });
    expect(await client.pending()).toBe(0);
    // The request sent after the stop waits in the stream for another instance.
    const [group] = (await client.redis.xinfo('GROUPS', client.stream)) as unknown[][];
    expect(group[group.indexOf('lag') + 1]).toBe(1);
    expect(await client.redis.exists(after.replyTo ?? '')).toBe(0);
  });

  it('creates the group again when Redis comes back without its data', async () => {
    const own = await RedisServer.start();
    let opened: BridgeClient | undefined;
    try {
      const settings = { ...setting(), REDIS_URL: own.url };
      await instance(settings);
      const client = new BridgeClient(own.url, settings.RPC_REQUEST_STREAM ?? '');
      opened = client;
      expect(await client.reply(await client.send({ method: 'test.echo' }))).toMatchObject({
        success: true,
      });

      await own.stop();
      await own.restart();

      // The first requests may reach Redis before the instance is back: they wait in the stream.
      const sent = await eventually('a request sent', () =>
        client.send({ method: 'test.echo', params: { key: 'back' } }).catch(() => undefined),
      );
      expect(await client.reply(sent as SentCall, 20_000)).toMatchObject({
        type: 'response',
        success: true,
      });
    } finally {
      await opened?.close();
      await closeInstances();
      await own.stop();
    }
  }, 40_000);

  it('shows the bridge and seed 003 figures in the health answer', async () => {
    const settings = setting();
    const app = await instance(settings);
    const client = clientOf(settings);
    await client.sendRaw('not json');
    await client.reply(await client.send({ method: 'test.echo' }));
    await eventually(
      'the dead letter',
      async () => (await client.deadLetterEntries()).length === 1,
    );

    const response = await fetch(`${app.httpUrl}/health`);
    const body = (await response.json()) as Record<string, unknown> & {
      details: Record<string, unknown>;
    };

    expect(response.status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      server_id: expect.any(String),
      connections: 0,
      authenticated: 0,
      users: 0,
      rooms: 0,
    });
    expect(body.details.bridge).toEqual({
      status: 'up',
      stream: settings.RPC_REQUEST_STREAM,
      group: 'rpc_group',
      consumer: body.server_id,
      consumers: 1,
      pending: 0,
      lag: 0,
      dead_letters: 1,
      in_flight: 0,
    });
  });
});
