import { RunningApp, startApp } from './support/test-app';
import { joinedClient } from './support/test-client';

describe('health endpoints', () => {
  let server: RunningApp;

  beforeEach(async () => {
    server = await startApp();
  });

  afterEach(async () => {
    await server.close();
  });

  it.each(['/', '/health'])('GET %s answers Terminus JSON with the chat counts', async (path) => {
    const client = await joinedClient(server.wsUrl, 'alice', 'lobby');
    const response = await fetch(`${server.httpUrl}${path}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      info: { chat: { status: 'up', connections: 1, rooms: 1 } },
      error: {},
      details: { chat: { status: 'up', connections: 1, rooms: 1 } },
    });
    await client.close();
  });
});
