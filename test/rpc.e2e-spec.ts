import type { JWTPayload } from 'jose';
import { SessionRegistry } from '../src/transport/session-registry';
import { eventually } from './support/eventually';
import { signToken, TEST_SECRET } from './support/jwt-fixtures';
import { RecordingLogger } from './support/recording-logger';
import { RpcExtensionModule, RpcGate } from './support/rpc-extension';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient } from './support/test-client';

/*
 * RPC over the socket (`{"type":"rpc"}` on `/` and `/ws`): the real app with a test extension
 * (test/support/rpc-extension.ts) whose methods are registered by decorator and by code, real
 * `ws` clients. Every error code the generic machinery produces is reached from outside.
 */

const clients: TestClient[] = [];

afterEach(async () => {
  const open = clients.splice(0);
  for (const client of open) client.terminate();
  await Promise.all(open.map((client) => client.closed));
});

async function connect(url: string, options?: Parameters<typeof TestClient.connect>[1]) {
  const client = await TestClient.connect(url, options);
  clients.push(client);
  return client;
}

let sequence = 0;

/** Sends one call and resolves with the answer carrying its correlation id. */
function call(client: TestClient, method: string, params?: unknown, extra: object = {}) {
  const correlationId = `c-${++sequence}`;
  return client.request(
    {
      type: 'rpc',
      method,
      ...(params !== undefined && { params }),
      correlation_id: correlationId,
      ...extra,
    },
    { what: `answer to ${correlationId}`, matches: (f) => f.correlation_id === correlationId },
  );
}

/** The error frame of a failed call, as seed 000 and seed 003 clients both read it. */
function rpcError(correlationId: unknown, code: string, extra: object = {}) {
  return {
    type: 'error',
    correlation_id: correlationId,
    code,
    message: expect.any(String),
    error: { code, message: expect.any(String), retryable: false, ...extra },
  };
}

const errorCodeOf = (frame: Frame) => (frame.error as { code: string }).code;

describe('RPC over the socket (AUTH_MODE=none)', () => {
  let server: RunningApp;
  let logger: RecordingLogger;

  beforeAll(async () => {
    logger = new RecordingLogger();
    server = await startApp(PROTOCOL_TEST_LIMITS, { imports: [RpcExtensionModule], logger });
  });

  afterAll(() => server.close());

  it.each(['/', '/ws'])(
    'answers a decorated extension method at %s with its result and the correlation id',
    async (path) => {
      const client = await connect(`${server.wsUrl}${path}`);
      const answer = await call(client, 'test.echo', { text: 'hi', seq: 3, point: { x: 1, y: 2 } });
      expect(answer).toEqual({
        type: 'response',
        correlation_id: answer.correlation_id,
        result: {
          dto: true,
          point: true,
          params: { text: 'hi', seq: 3, point: { x: 1, y: 2 } },
          caller: { kind: 'socket', userId: null },
        },
      });
    },
  );

  it('lets an extension’s own method publish an event that reaches the room’s followers', async () => {
    const follower = await TestClient.connect(server.wsUrl);
    const caller = await TestClient.connect(server.wsUrl);
    try {
      follower.send({
        type: 'rpc',
        method: 'join_room',
        params: { room: 'team:red' },
        correlation_id: 'f',
      });
      await follower.next('response');
      caller.send({
        type: 'rpc',
        method: 'team.announce',
        params: { room: 'red' },
        correlation_id: 'a',
      });
      expect(await caller.next('response')).toMatchObject({
        result: { room: 'team:red', offset: 2 },
      });
      expect(await follower.next('event')).toMatchObject({
        event: 'team.announce',
        roomId: 'team:red',
        data: { room: 'red' },
        offset: 2,
      });
    } finally {
      await Promise.all([follower.close(), caller.close()]);
    }
  });

  it('answers a method registered from code', async () => {
    const client = await connect(server.wsUrl);
    expect((await call(client, 'test.sum', { a: 2, b: 40 })).result).toEqual({ sum: 42 });
  });

  it('strips params the method does not declare instead of refusing them', async () => {
    const client = await connect(server.wsUrl);
    const answer = await call(client, 'test.echo', { text: 'hi', timestamp: '2026-01-01', x: 1 });
    expect((answer.result as { params: unknown }).params).toEqual({ text: 'hi' });
  });

  it.each([
    ['absent', undefined],
    ['null', null],
  ])('takes %s params as {}', async (_what, params) => {
    const client = await connect(server.wsUrl);
    const answer = await call(client, 'test.nothing', params);
    expect(answer).toMatchObject({ type: 'response', result: { params: {} } });
  });

  it('answers an unknown method method_not_found', async () => {
    const client = await connect(server.wsUrl);
    const answer = await call(client, 'no.such_method', {});
    expect(answer).toEqual(rpcError(answer.correlation_id, 'method_not_found'));
  });

  it('answers invalid params with one validation error per failed field, nested ones by dotted path', async () => {
    const client = await connect(server.wsUrl);
    const answer = await call(client, 'test.echo', {
      text: 5,
      point: { x: 'one', y: 2 },
      tags: [{ name: 'ok' }, { name: '' }],
    });
    expect(answer).toEqual(
      rpcError(answer.correlation_id, 'invalid_params', { details: expect.any(Object) }),
    );
    const details = (answer.error as { details: { validation_errors: unknown[] } }).details;
    expect(details.validation_errors).toEqual([
      { field: 'text', error: 'text must be a string' },
      { field: 'point.x', error: 'x must be an integer' },
      { field: 'tags.1.name', error: 'name must be 1 to 20 characters' },
    ]);
  });

  it.each([
    ['an array', [1, 2], 'params'],
    ['a string', 'text', 'params'],
    [
      'nested deeper than 32 levels',
      { text: 'a', deep: JSON.parse('['.repeat(40) + ']'.repeat(40)) },
      'deep.0.0',
    ],
    ['holding a lone surrogate', { text: 'a\ud800' }, 'text'],
  ])('answers params %s invalid_params', async (_what, params, field) => {
    const client = await connect(server.wsUrl);
    const answer = await call(client, 'test.echo', params);
    expect(errorCodeOf(answer)).toBe('invalid_params');
    const details = (answer.error as { details: { validation_errors: { field: string }[] } })
      .details;
    expect(details.validation_errors[0].field.startsWith(field)).toBe(true);
  });

  it('answers a frame without a method invalid_params naming it', async () => {
    const client = await connect(server.wsUrl);
    const answer = await client.request(
      { type: 'rpc', correlation_id: 'no-method', params: {} },
      (f) => f.correlation_id === 'no-method',
    );
    expect(answer.error).toEqual({
      code: 'invalid_params',
      message: 'method must be a string',
      details: { validation_errors: [{ field: 'method', error: 'method must be a string' }] },
      retryable: false,
    });
  });

  it.each([
    ['without a correlation_id', {}],
    ['with a numeric correlation_id', { correlation_id: 7 }],
    ['with an empty correlation_id', { correlation_id: '' }],
    ['with a correlation_id over 128 characters', { correlation_id: 'c'.repeat(129) }],
  ])('answers a frame %s with an invalid_message error frame', async (_what, fields) => {
    const client = await connect(server.wsUrl);
    const answer = await client.request({ type: 'rpc', method: 'test.sum', ...fields }, 'error');
    expect(answer).toEqual({
      type: 'error',
      code: 'invalid_message',
      message: expect.stringContaining('correlation_id'),
    });
  });

  it('answers a frame with a __proto__ key invalid_params with its correlation id', async () => {
    const client = await connect(server.wsUrl);
    client.send('{"type":"rpc","method":"test.sum","correlation_id":"proto","__proto__":{"a":1}}');
    const answer = await client.next((f) => f.correlation_id === 'proto');
    expect(answer).toEqual(rpcError('proto', 'invalid_params', { details: expect.any(Object) }));
  });

  it('refuses a backend-only method to a socket: forbidden', async () => {
    const client = await connect(server.wsUrl);
    const answer = await call(client, 'test.backend_only', {});
    expect(answer).toEqual(rpcError(answer.correlation_id, 'forbidden'));
  });

  it('lets a socket publish anywhere without authentication', async () => {
    const client = await connect(server.wsUrl);
    expect((await call(client, 'test.publish', { room: 'any.room' })).result).toEqual({
      published: 'any.room',
    });
  });

  it('passes an RpcError of the handler through as it is', async () => {
    const client = await connect(server.wsUrl);
    const answer = await call(client, 'test.refuses');
    expect(answer).toEqual(rpcError(answer.correlation_id, 'user_not_connected'));
    expect(answer.message).toBe('nobody is connected as that user');
  });

  it('answers a handler that throws internal_error, logging it without the params', async () => {
    const client = await connect(server.wsUrl);
    const before = logger.lines.length;
    const answer = await call(client, 'test.throws', { text: 'do-not-log-this-text' });
    expect(answer).toEqual(rpcError(answer.correlation_id, 'internal_error'));
    expect(answer.message).toBe('internal server error');
    const logged = logger.lines.slice(before);
    expect(logged).toEqual(
      expect.arrayContaining([
        { level: 'error', message: expect.stringContaining('RPC method test.throws failed') },
      ]),
    );
    expect(JSON.stringify(logged)).not.toContain('do-not-log-this-text');
    // The connection stays usable.
    expect((await call(client, 'test.sum', { a: 1, b: 1 })).result).toEqual({ sum: 2 });
  });

  it('runs one connection’s calls in order: a slow call holds the next one back', async () => {
    const gate = server.app.get(RpcGate);
    const client = await connect(server.wsUrl);
    gate.close();
    const reachedBefore = gate.reached;
    const answers: unknown[] = [];
    const slow = call(client, 'test.wait', { text: 'slow' }).then((a) => answers.push(a.result));
    const fast = call(client, 'test.echo', { text: 'fast' }).then((a) =>
      answers.push(a.correlation_id),
    );
    // The slow call has started and the fast one waits in the session's queue behind it.
    await eventually('the slow call to start, the fast one queued', () => {
      const [session] = [...server.app.get(SessionRegistry)].filter((s) => s.inbound.queued > 0);
      return gate.reached > reachedBefore && session?.inbound.queued === 2;
    });
    expect(answers).toEqual([]);
    gate.open();
    await Promise.all([slow, fast]);
    expect(answers[0]).toEqual({ waited: 'slow' });
  });

  it('lets an RPC frame and chat messages share one connection', async () => {
    const client = await connect(server.wsUrl);
    await client.request({ type: 'join', userId: 'rpc_user', roomId: 'rpc_room' }, 'joined');
    expect((await call(client, 'test.sum', { a: 1, b: 2 })).result).toEqual({ sum: 3 });
    await client.request(
      { type: 'chat_message', userId: 'rpc_user', content: 'hi' },
      'chat_message',
    );
  });
});

describe('RPC and the transport’s limits', () => {
  it('answers a call over the rate limit rate_limited with its correlation id and retry_after', async () => {
    const server = await startApp(
      {
        RATE_LIMIT_PER_SECOND: 1,
        RATE_LIMIT_BURST: 2,
        PRESENCE_COST: 1,
        SWITCH_COST: 1,
        ABUSE_ERRORS_MAX: 100,
      },
      { imports: [RpcExtensionModule] },
    );
    try {
      const client = await connect(server.wsUrl);
      for (const id of ['r1', 'r2', 'r3']) {
        client.send({
          type: 'rpc',
          method: 'test.sum',
          params: { a: 1, b: 1 },
          correlation_id: id,
        });
      }
      expect((await client.next((f) => f.correlation_id === 'r1')).type).toBe('response');
      expect((await client.next((f) => f.correlation_id === 'r2')).type).toBe('response');
      const refused = await client.next((f) => f.correlation_id === 'r3');
      expect(refused).toEqual({
        type: 'error',
        correlation_id: 'r3',
        code: 'rate_limited',
        message: expect.stringContaining('rate limit'),
        error: {
          code: 'rate_limited',
          message: expect.stringContaining('rate limit'),
          retryable: true,
          retry_after: expect.any(Number),
        },
      });
      expect((refused.error as { retry_after: number }).retry_after).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });

  it('spares a connection that makes calls the join deadline, and closes one that does nothing', async () => {
    const server = await startApp(
      { ...PROTOCOL_TEST_LIMITS, JOIN_TIMEOUT_MS: 300 },
      { imports: [RpcExtensionModule] },
    );
    try {
      const caller = await connect(`${server.wsUrl}/ws`);
      await call(caller, 'test.sum', { a: 1, b: 1 });
      const idle = await connect(`${server.wsUrl}/ws`);
      // The idle connection opened later, so its deadline passed after the caller's.
      expect(await idle.closed).toEqual({ code: 1008, reason: 'join timeout' });
      expect((await call(caller, 'test.sum', { a: 2, b: 2 })).result).toEqual({ sum: 4 });
    } finally {
      await server.close();
    }
  });
});

describe('RPC over the socket (AUTH_MODE=jwt)', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp(
      { ...PROTOCOL_TEST_LIMITS, AUTH_MODE: 'jwt', JWT_SECRET: TEST_SECRET },
      { imports: [RpcExtensionModule] },
    );
  });

  afterAll(() => server.close());

  const tokenFor = (sub: string, claims: JWTPayload = {}) =>
    signToken({ sub, ...claims }, TEST_SECRET);

  async function authenticated(sub: string, claims: JWTPayload = {}): Promise<TestClient> {
    const token = await tokenFor(sub, claims);
    return connect(server.wsUrl, { headers: { authorization: `Bearer ${token}` } });
  }

  it('calls a query as the token’s user', async () => {
    const client = await authenticated('alice');
    const answer = await call(client, 'test.echo', { text: 'hi' });
    expect((answer.result as { caller: unknown }).caller).toEqual({
      kind: 'socket',
      userId: 'alice',
    });
  });

  it('lets a socket publish into a room its publish claim matches, and refuses another room', async () => {
    const client = await authenticated('alice', { publish: ['team:*'] });
    expect((await call(client, 'test.publish', { room: 'team:42' })).result).toEqual({
      published: 'team:42',
    });
    const refused = await call(client, 'test.publish', { room: 'other:42' });
    expect(refused).toEqual(rpcError(refused.correlation_id, 'forbidden'));
  });

  it('refuses publishing to a token without a publish claim', async () => {
    const client = await authenticated('bob');
    expect(errorCodeOf(await call(client, 'test.publish', { room: 'bob' }))).toBe('forbidden');
  });

  it('refuses a backend-only method to an authenticated socket', async () => {
    const client = await authenticated('alice', { publish: ['*'] });
    expect(errorCodeOf(await call(client, 'test.backend_only', {}))).toBe('forbidden');
  });

  it('answers a call sent before the Bearer first frame unauthenticated, then closes with 1008', async () => {
    const client = await connect(`${server.wsUrl}/ws`);
    const answer = await client.request(
      { type: 'rpc', method: 'test.sum', params: { a: 1, b: 1 }, correlation_id: 'early' },
      (f) => f.correlation_id === 'early',
    );
    expect(answer).toEqual(rpcError('early', 'unauthenticated'));
    expect(await client.closed).toEqual({ code: 1008, reason: 'authentication failed' });
  });

  it('answers calls after a Bearer first frame', async () => {
    const client = await connect(`${server.wsUrl}/ws`);
    client.send(`Bearer ${await tokenFor('carol')}`);
    await client.next('auth');
    expect((await call(client, 'test.sum', { a: 3, b: 4 })).result).toEqual({ sum: 7 });
  });

  it('refuses a call naming another userId than the token’s: forbidden, with its correlation id', async () => {
    const client = await authenticated('alice');
    const answer = await call(client, 'test.sum', { a: 1, b: 1 }, { userId: 'mallory' });
    expect(answer).toEqual(rpcError(answer.correlation_id, 'forbidden'));
  });
});
