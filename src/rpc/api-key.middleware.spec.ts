import { HttpException } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { configWith } from '../config/load-config';
import { ApiKeyMiddleware } from './api-key.middleware';

const KEY = 'the-api-key-0123456789';

/** What the middleware passes on: nothing (go on) or the HTTP error, and the headers it set. */
function run(apiKey: string, authorization?: string) {
  const middleware = new ApiKeyMiddleware(configWith({ API_KEY: apiKey }));
  const headers: Record<string, string> = {};
  const request = {
    method: 'POST',
    url: '/api/rpc',
    originalUrl: '/api/rpc?x=1',
    headers: authorization === undefined ? {} : { authorization },
  } as unknown as IncomingMessage & { originalUrl: string };
  const response = {
    setHeader: (name: string, value: string) => (headers[name] = value),
  } as unknown as ServerResponse;
  let passed: unknown = 'not called';
  middleware.use(request, response, (error?: unknown) => (passed = error));
  const status = passed instanceof HttpException ? passed.getStatus() : passed;
  return { status, headers, passed };
}

describe('ApiKeyMiddleware', () => {
  it('answers 404 as for an absent route when API_KEY is unset', () => {
    const { status, passed } = run('', `Bearer ${KEY}`);
    expect(status).toBe(404);
    expect((passed as HttpException).message).toBe('Cannot POST /api/rpc?x=1');
  });

  it.each([[`Bearer ${KEY}`], [`bearer ${KEY}`], [`Bearer  ${KEY} `]])(
    'lets %j through',
    (authorization) => {
      expect(run(KEY, authorization).status).toBeUndefined();
    },
  );

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another key', 'Bearer another-key-0123456789'],
    ['the key with a suffix', `Bearer ${KEY}x`],
    ['the key alone', KEY],
    ['another scheme', `Token ${KEY}`],
    ['two tokens', `Bearer ${KEY} ${KEY}`],
  ])('answers 401 for %s, asking for a bearer token', (_what, authorization) => {
    const { status, headers } = run(KEY, authorization);
    expect(status).toBe(401);
    expect(headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
  });
});
