import { RedisServer, describeWithRedis } from './support/redis-server';
import { BridgeClient } from './support/bridge-client';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient } from './support/test-client';

/*
 * Events are bounded: every free-text param has a maximum, and a frame over MAX_EVENT_BYTES is
 * refused with invalid_params whichever way it comes (socket RPC, HTTP API, Redis bridge), before
 * anything is published: a room's followers never receive it.
 */

const API_KEY = 'test-api-key-0123456789';
const MAX_EVENT_BYTES = 16_384;
const STREAM = `huge-${process.pid}`;
let calls = 0;

function rpc(client: TestClient, method: string, params: object): Promise<Frame> {
  const correlation_id = `c-${++calls}`;
  return client.request(
    { type: 'rpc', method, params, correlation_id },
    (frame) => frame.correlation_id === correlation_id,
  );
}

async function http(app: RunningApp, method: string, params: object): Promise<Frame> {
  const response = await fetch(`${app.httpUrl}/api/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ method, params }),
  });
  return (await response.json()) as Frame;
}

const fileChanged = (content: string): Record<string, unknown> => ({
  workspace_id: 'w1',
  file_path: 'src/a.ts',
  event_type: 'modify',
  content,
});

describeWithRedis('event size bounds', () => {
  let redis: RedisServer;
  let app: RunningApp;
  let bridge: BridgeClient;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      API_KEY,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `huge${process.pid}:`,
      RPC_REQUEST_STREAM: STREAM,
      RPC_DEAD_LETTER_STREAM: `${STREAM}:dlq`,
      MAX_EVENT_BYTES,
      MAX_PAYLOAD_BYTES: 1_048_576,
    });
    bridge = new BridgeClient(redis.url, STREAM);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await bridge?.close();
    await app?.close();
    await redis?.stop();
  });

  const connect = async (): Promise<TestClient> => {
    const client = await TestClient.connect(app.wsUrl);
    clients.push(client);
    return client;
  };

  it('refuses an event frame over MAX_EVENT_BYTES with invalid_params on the socket, HTTP and the bridge; followers never see it', async () => {
    const follower = await connect();
    expect(await rpc(follower, 'join_room', { room: 'workspace:w1' })).toMatchObject({
      type: 'response',
    });
    const caller = await connect();
    const huge = fileChanged('x'.repeat(MAX_EVENT_BYTES));

    const bySocket = await rpc(caller, 'workspace.file_changed', huge);
    expect(bySocket).toMatchObject({ code: 'invalid_params' });
    expect(String(bySocket.message)).toMatch(/more than MAX_EVENT_BYTES \(16384\)/);
    expect(await http(app, 'workspace.file_changed', huge)).toMatchObject({
      success: false,
      error: { code: 'invalid_params' },
    });
    const sent = await bridge.send({ method: 'workspace.file_changed', params: huge });
    expect(await bridge.reply(sent)).toMatchObject({
      success: false,
      error_code: 'invalid_params',
    });

    // One just under the bound goes through, and is the first event the follower gets.
    const fits = fileChanged('y'.repeat(MAX_EVENT_BYTES - 400));
    expect(await rpc(caller, 'workspace.file_changed', fits)).toMatchObject({ type: 'response' });
    const event = await follower.next('event');
    expect(event.data).toMatchObject({ content: fits.content });
    const history = await rpc(follower, 'history', { room: 'workspace:w1' });
    const kept = (history.result as { messages: Frame[] }).messages;
    expect(kept.filter((frame) => frame.type === 'event')).toEqual([event]);
  });

  it('bounds every free-text param: content, diff, result and context name the field', async () => {
    const caller = await connect();
    const long = 'z'.repeat(262_145);
    const refused = async (method: string, params: object, field: string): Promise<void> => {
      const answer = await rpc(caller, method, params);
      expect(answer).toMatchObject({ code: 'invalid_params' });
      const { details } = answer.error as { details: { validation_errors: { field: string }[] } };
      expect(details.validation_errors.map((e) => e.field)).toEqual([field]);
    };
    await refused('workspace.file_changed', fileChanged(long), 'content');
    await refused('workspace.file_changed', { ...fileChanged(''), diff: long }, 'diff');
    const session = { session_id: 's1' };
    await refused('session.context_updated', { ...session, context: { text: long } }, 'context');
    await refused(
      'session.task_status',
      { ...session, task_id: 't1', status: 'completed', result: [long] },
      'result',
    );
    await refused(
      'session.message',
      {
        ...session,
        message_id: 'm',
        role: 'user',
        content: long,
        is_streaming: false,
        is_final: true,
      },
      'content',
    );
  });
});
