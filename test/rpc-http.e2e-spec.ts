import { RecordingLogger } from './support/recording-logger';
import { RpcExtensionModule } from './support/rpc-extension';
import { RunningApp, startApp } from './support/test-app';

/*
 * The HTTP API (`POST /api/rpc`) of the real app, with the test extension's methods, called with
 * fetch as a backend would.
 */

const API_KEY = 'test-api-key-0123456789';

function post(
  server: RunningApp,
  body: string,
  headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` },
  path = '/api/rpc',
): Promise<Response> {
  return fetch(`${server.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

const postJson = (server: RunningApp, value: unknown) => post(server, JSON.stringify(value));

describe('HTTP API without API_KEY', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({}, { imports: [RpcExtensionModule] });
  });

  afterAll(() => server.close());

  it('answers 404 as for a route that does not exist, key or not, body or not', async () => {
    const absent = await post(server, '{}', {}, '/api/absent');
    const expected = (await absent.json()) as { message: string };
    for (const response of [
      await postJson(server, { method: 'test.sum', params: { a: 1, b: 2 } }),
      await post(server, '{"method":', {}),
      await post(server, JSON.stringify({ pad: 'x'.repeat(100_000) })),
    ]) {
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        ...expected,
        message: expected.message.replace('/api/absent', '/api/rpc'),
      });
    }
  });
});

describe('HTTP API with API_KEY', () => {
  let server: RunningApp;
  let logger: RecordingLogger;

  beforeAll(async () => {
    logger = new RecordingLogger();
    server = await startApp(
      { API_KEY, MAX_PAYLOAD_BYTES: 4096 },
      { imports: [RpcExtensionModule], logger },
    );
  });

  afterAll(() => server.close());

  it.each([
    ['without Authorization', {}],
    ['with another key', { authorization: 'Bearer another-key-0123456789' }],
    ['with the key under another scheme', { authorization: `Basic ${API_KEY}` }],
    ['with a prefix of the key', { authorization: `Bearer ${API_KEY.slice(0, -1)}` }],
  ])('answers 401 %s, asking for a bearer token', async (_what, headers) => {
    const response = await post(server, '{"method":"test.sum","params":{"a":1,"b":2}}', headers);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 401 before reading a body, even one over MAX_PAYLOAD_BYTES', async () => {
    const response = await post(server, JSON.stringify({ pad: 'x'.repeat(10_000) }), {});
    expect(response.status).toBe(401);
  });

  it('never logs the key', async () => {
    await post(server, '{}', { authorization: 'Bearer wrong-key-but-long-enough' });
    expect(JSON.stringify(logger.lines)).not.toContain(API_KEY);
    expect(JSON.stringify(logger.lines)).not.toContain('wrong-key-but-long-enough');
  });

  it('answers one call 200 with its result, as a backend calling any method', async () => {
    const response = await postJson(server, {
      method: 'test.backend_only',
      params: {},
      correlation_id: 'http-1',
      timestamp: '2026-12-01T00:00:00Z',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      type: 'response',
      correlation_id: 'http-1',
      success: true,
      result: { caller: { kind: 'backend', via: 'http' } },
    });
  });

  it('reaches a method registered from code, and one decorated, with validated params', async () => {
    const sum = await postJson(server, { method: 'test.sum', params: { a: 20, b: 22 } });
    expect(await sum.json()).toEqual({ type: 'response', success: true, result: { sum: 42 } });
    const echo = await postJson(server, { method: 'test.echo', params: { text: 'x', extra: 1 } });
    expect(((await echo.json()) as { result: unknown }).result).toMatchObject({
      dto: true,
      params: { text: 'x' },
    });
  });

  it('lets a backend publish into any room', async () => {
    const response = await postJson(server, { method: 'test.publish', params: { room: 'r1' } });
    expect(await response.json()).toMatchObject({ success: true, result: { published: 'r1' } });
  });

  it('answers a call with invalid params 400 with the field errors', async () => {
    const response = await postJson(server, {
      method: 'test.echo',
      params: { text: '', point: { x: 1.5, y: 0 } },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      type: 'error',
      success: false,
      error_code: 'invalid_params',
      error: {
        code: 'invalid_params',
        message: expect.any(String),
        details: {
          validation_errors: [
            { field: 'text', error: 'text must be 1 to 100 characters' },
            { field: 'point.x', error: 'x must be an integer' },
          ],
        },
        retryable: false,
      },
    });
  });

  it.each([
    ['an unknown method', 404, 'method_not_found', { method: 'no.such' }],
    ['a call without a method', 400, 'invalid_params', { params: {} }],
    [
      'a handler that throws',
      500,
      'internal_error',
      { method: 'test.throws', params: { text: 'x' } },
    ],
    ['a handler’s RpcError', 404, 'user_not_connected', { method: 'test.refuses' }],
  ])('answers %s with status %i and code %s', async (_what, status, code, body) => {
    const response = await postJson(server, body);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({
      success: false,
      error_code: code,
      error: { code },
    });
  });

  it('answers a batch 200 with one outcome per call, in order', async () => {
    const response = await postJson(server, [
      { method: 'test.sum', params: { a: 1, b: 2 }, correlation_id: 'b1' },
      { method: 'no.such', correlation_id: 'b2' },
      { method: 'test.sum', params: { a: 'one', b: 2 } },
      'not a call',
      { method: 'test.throws', params: { text: 'x' } },
      { method: 'test.backend_only' },
    ]);
    expect(response.status).toBe(200);
    const replies = (await response.json()) as Record<string, unknown>[];
    expect(replies.map((r) => [r.correlation_id, r.success, r.error_code])).toEqual([
      ['b1', true, undefined],
      ['b2', false, 'method_not_found'],
      [undefined, false, 'invalid_params'],
      [undefined, false, 'invalid_params'],
      [undefined, false, 'internal_error'],
      [undefined, true, undefined],
    ]);
    expect(replies[0].result).toEqual({ sum: 3 });
  });

  it.each([
    ['an empty batch', '[]'],
    ['a batch of 101 calls', JSON.stringify(Array.from({ length: 101 }, () => ({ method: 'x' })))],
  ])('refuses %s with 400', async (_what, body) => {
    const response = await post(server, body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      success: false,
      error: { code: 'invalid_params', message: 'a batch holds 1 to 100 calls' },
    });
  });

  it('answers a body over MAX_PAYLOAD_BYTES with 413', async () => {
    const response = await postJson(server, {
      method: 'test.echo',
      params: { text: 'x'.repeat(5000) },
    });
    expect(response.status).toBe(413);
  });

  it.each([
    ['malformed JSON', '{"method":'],
    ['a JSON string', '"test.sum"'],
  ])('answers %s with 400', async (_what, body) => {
    expect((await post(server, body)).status).toBe(400);
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no Content-Type', {}],
  ])('answers a body sent as %s with 415 naming application/json', async (_what, type) => {
    const response = await fetch(`${server.httpUrl}/api/rpc`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, ...type },
      body: new TextEncoder().encode('{"method":"test.sum"}'),
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({
      statusCode: 415,
      message: 'Content-Type must be application/json',
    });
  });

  it('takes application/json with a charset', async () => {
    const response = await post(server, '{"method":"test.sum","params":{"a":1,"b":2}}', {
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'Application/JSON; charset=utf-8',
    });
    expect(response.status).toBe(200);
  });

  it.each([
    ['5', 'a number'],
    ['"test.sum"', 'a string'],
    ['null', 'null'],
    ['true', 'a boolean'],
  ])(
    'answers the JSON body %s with 400 saying it is not an object or array',
    async (body, what) => {
      const response = await post(server, body);
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { message: string };
      expect(answer.message).toBe(`the JSON body must be an object or an array, not ${what}`);
    },
  );
});
