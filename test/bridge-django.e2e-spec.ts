import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BridgeClient } from './support/bridge-client';
import { BridgeTestMethods, BridgeTestMethodsModule } from './support/bridge-methods';
import { eventually } from './support/eventually';
import { describeWithPythonRedis, pythonPath } from './support/python-redis';
import { RedisServer } from './support/redis-server';
import { roomEvents } from './support/room-history';
import { RunningApp, startApp } from './support/test-app';
import { TestClient } from './support/test-client';

/*
 * The bridge driven the way seed 003's Django client drives it, from Python with Debian's
 * python3-redis (test/support/django_rpc_client.py: XADD, BLPOP on the reply list, DEL).
 */

const SCRIPT = join(__dirname, 'support', 'django_rpc_client.py');

interface Call {
  method: string;
  params?: Record<string, unknown>;
  /** Params of a stream's chunks, sent in order with `send_stream`. */
  chunks?: Record<string, unknown>[];
  timeout?: number;
  fire_and_forget?: boolean;
}

type Outcome = Record<string, unknown> & { method: string; outcome: string };

/** Runs the Python client on `calls`; resolves with its outcomes, one per call. */
function django(url: string, stream: string, calls: Call[]): Promise<Outcome[]> {
  const child = spawn(pythonPath, [SCRIPT, url, stream], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(JSON.stringify(calls));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the Python client failed (${code}):\n${stderr}`));
      resolve(
        stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Outcome),
      );
    });
  });
}

describeWithPythonRedis('bridge: seed 003’s Django client, in Python', () => {
  let redis: RedisServer;
  let app: RunningApp;
  let client: BridgeClient;

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await startApp({ REDIS_URL: redis.url }, { imports: [BridgeTestMethodsModule] });
    client = new BridgeClient(redis.url, 'stream:requests');
  });

  afterAll(async () => {
    await app.close();
    await client.close();
    await redis.stop();
  });

  it('gets results and remote errors as the Django client reads them, and leaves no keys', async () => {
    const outcomes = await django(redis.url, 'stream:requests', [
      { method: 'test.echo', params: { key: 'py', seq: 1 }, timeout: 10 },
      { method: 'test.fail', params: { key: 'py-fail' }, timeout: 10 },
      { method: 'no.such_method', timeout: 10 },
      { method: 'test.echo', params: { key: 'py-ff' }, fire_and_forget: true },
    ]);

    expect(outcomes).toEqual([
      {
        method: 'test.echo',
        outcome: 'result',
        correlation_id: expect.any(String),
        result: { echo: { key: 'py', seq: 1 }, server_id: expect.any(String) },
      },
      {
        method: 'test.fail',
        outcome: 'remote_error',
        error: {
          code: 'user_not_connected',
          message: 'nobody of that name is connected',
          details: { user_id: 'ghost' },
          retryable: false,
        },
      },
      {
        method: 'no.such_method',
        outcome: 'remote_error',
        error: expect.objectContaining({ code: 'method_not_found' }),
      },
      { method: 'test.echo', outcome: 'sent', id: expect.stringMatching(/^\d+-\d+$/) },
    ]);
    const methods = app.app.get(BridgeTestMethods);
    await eventually('the fire-and-forget request to run', () => methods.runsOf('py-ff') === 1);
    await client.settled();
    // The client deleted its reply lists; nothing of the calls is left but the dedup records.
    expect(await client.redis.keys('list:response:*')).toEqual([]);
  });

  it('calls notification.send and workspace.file_changed; the right browsers get them', async () => {
    const browser = await TestClient.connect(app.wsUrl);
    const outsider = await TestClient.connect(app.wsUrl);
    try {
      await browser.request({ type: 'join', userId: 'dana', roomId: 'lobby' }, 'joined');
      await outsider.request({ type: 'join', userId: 'eli', roomId: 'lobby' }, 'joined');
      browser.send({
        type: 'rpc',
        method: 'join_room',
        params: { room: 'workspace:42' },
        correlation_id: 'j',
      });
      expect(await browser.next('response')).toMatchObject({ result: { room: 'workspace:42' } });
      const change = { workspace_id: '42', file_path: 'app/models.py', event_type: 'modify' };
      const outcomes = await django(redis.url, 'stream:requests', [
        {
          method: 'notification.send',
          params: { user_id: 'dana', title: 'Deploy', message: 'done', type: 'success' },
          timeout: 10,
        },
        { method: 'workspace.file_changed', params: change, timeout: 10 },
      ]);
      expect(outcomes).toEqual([
        expect.objectContaining({ outcome: 'result', result: { delivered: 1 } }),
        expect.objectContaining({
          outcome: 'result',
          result: { room: 'workspace:42', offset: expect.any(Number), epoch: expect.any(String) },
        }),
      ]);
      expect(await browser.next('notification')).toMatchObject({
        data: { title: 'Deploy', message: 'done', notification_type: 'success' },
      });
      expect(await browser.next('event')).toMatchObject({
        event: 'workspace.file_changed',
        roomId: 'workspace:42',
        data: change,
      });
      // Eli is in neither the workspace nor dana's connections: a marker reaches him alone.
      await outsider.request(
        { type: 'chat_message', userId: 'eli', content: 'marker' },
        'chat_message',
      );
      expect(outsider.unread().filter((f) => f.type !== 'chat_message')).toEqual([]);
    } finally {
      await Promise.all([browser.close(), outsider.close()]);
    }
  });

  it('sends a stream’s chunks in order with send_stream: published in order across two instances', async () => {
    const second = await startApp({ REDIS_URL: redis.url }, { imports: [BridgeTestMethodsModule] });
    try {
      const chunks = Array.from({ length: 30 }, (_, seq) => ({
        session_id: 'py-stream',
        message_id: 'm1',
        role: 'assistant',
        content: `chunk ${seq}`,
        is_streaming: true,
        is_final: seq === 29,
        seq,
      }));
      const [outcome] = await django(redis.url, 'stream:requests', [
        { method: 'session.message', chunks, timeout: 10 },
      ]);

      expect(outcome).toMatchObject({ outcome: 'stream', results: expect.any(Array) });
      const offsets = (outcome.results as { offset: number }[]).map((result) => result.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      const events = await roomEvents(client.redis, 'chat:', 'session:py-stream');
      expect(events.map((event) => event.data.seq)).toEqual(chunks.map((chunk) => chunk.seq));
      expect(events.map((event) => event.offset)).toEqual(offsets);
    } finally {
      await second.close();
    }
  });
});
