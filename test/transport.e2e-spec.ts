import type { IncomingMessage } from 'node:http';
import WebSocket, { ClientOptions } from 'ws';
import { RunningApp, startApp } from './support/test-app';
import { TestClient, joinedClient } from './support/test-client';
import { ISO_TIMESTAMP, POSITIONED } from './support/expected-frames';

/** The outcome of an upgrade attempt: the 101 response, or the HTTP status it was refused with. */
type UpgradeOutcome =
  | { accepted: true; response: IncomingMessage; socket: WebSocket }
  | { accepted: false; status: number };

/**
 * Attempts a WebSocket upgrade and reports how the server answered it. An accepted socket is
 * returned open; the caller closes it.
 */
function attemptUpgrade(url: string, options?: ClientOptions): Promise<UpgradeOutcome> {
  const socket = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    socket.once('upgrade', (res) => (response = res));
    socket.once('open', () => {
      if (response) resolve({ accepted: true, response, socket });
      else reject(new Error('opened without an upgrade response'));
    });
    socket.once('unexpected-response', (request, res) => {
      resolve({ accepted: false, status: res.statusCode ?? 0 });
      res.resume();
      request.destroy();
    });
    socket.on('error', (error) => {
      if (socket.readyState !== WebSocket.CLOSED) reject(error);
    });
  });
}

/** The text of a `chat_message` of exactly `bytes` bytes, and its content. */
function chatFrameOfSize(userId: string, bytes: number): { frame: string; content: string } {
  const empty = JSON.stringify({ type: 'chat_message', userId, content: '' });
  const content = 'x'.repeat(bytes - Buffer.byteLength(empty));
  const frame = JSON.stringify({ type: 'chat_message', userId, content });
  expect(Buffer.byteLength(frame)).toBe(bytes);
  return { frame, content };
}

/** Resolves once the client has received `count` pings; fails if it closes first. */
function pingsReceived(client: TestClient, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let pings = 0;
    client.socket.on('ping', () => {
      pings += 1;
      if (pings === count) resolve();
    });
    void client.closed.then(({ code }) =>
      reject(new Error(`closed with ${code} after ${pings} ping(s)`)),
    );
  });
}

async function healthCounts(server: RunningApp): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.httpUrl}/health`);
  const body = (await response.json()) as { details: { chat: Record<string, unknown> } };
  return body.details.chat;
}

describe('WebSocket transport', () => {
  let server: RunningApp | undefined;
  const clients: TestClient[] = [];
  const sockets: WebSocket[] = [];

  async function start(overrides: Parameters<typeof startApp>[0] = {}): Promise<RunningApp> {
    server = await startApp(overrides);
    return server;
  }

  async function connect(url: string, options?: ClientOptions): Promise<TestClient> {
    const client = await TestClient.connect(url, options);
    clients.push(client);
    return client;
  }

  async function joined(url: string, userId: string, roomId?: string): Promise<TestClient> {
    const client = await joinedClient(url, userId, roomId);
    clients.push(client);
    return client;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    for (const socket of sockets.splice(0)) socket.terminate();
    await server?.close();
    server = undefined;
  });

  describe('paths and port', () => {
    beforeEach(() => start());

    it.each(['/', '/ws', '/?room=x&y=1', '/ws?foo=bar'])(
      'accepts a WebSocket upgrade at %s on the HTTP port',
      async (path) => {
        const running = server!;
        const health = await fetch(`${running.httpUrl}/`);
        expect(health.status).toBe(200);

        const client = await connect(`${running.wsUrl}${path}`);
        const reply = await client.request({ type: 'join', userId: 'alice' }, 'joined');
        expect(reply).toEqual({
          type: 'joined',
          roomId: 'alice',
          userId: 'alice',
          message: 'Joined room: alice',
          ...POSITIONED,
        });
      },
    );

    it.each(['/?userId=alice', '/ws?userId=alice'])(
      'auto-joins a client connecting at %s',
      async (path) => {
        const client = await connect(`${server!.wsUrl}${path}`);
        expect(await client.next('joined')).toEqual({
          type: 'joined',
          roomId: 'alice',
          userId: 'alice',
          message: 'Joined room: alice',
          ...POSITIONED,
        });
      },
    );

    it.each(['/nope', '/ws/nope', '/wsx', '/health'])(
      'refuses an upgrade at %s with HTTP 404 before any WebSocket exists',
      async (path) => {
        const outcome = await attemptUpgrade(`${server!.wsUrl}${path}`);
        expect(outcome).toEqual({ accepted: false, status: 404 });
        expect(await healthCounts(server!)).toMatchObject({ connections: 0 });
      },
    );

    it('answers 101 without Sec-WebSocket-Extensions when the client offers permessage-deflate', async () => {
      const outcome = await attemptUpgrade(`${server!.wsUrl}/ws`, { perMessageDeflate: true });
      if (!outcome.accepted) throw new Error(`upgrade refused with HTTP ${outcome.status}`);
      sockets.push(outcome.socket);
      expect(outcome.response.statusCode).toBe(101);
      expect(outcome.response.headers['sec-websocket-extensions']).toBeUndefined();
      expect(outcome.socket.extensions).toBe('');
    });
  });

  describe('message size limit', () => {
    const limit = 2048;

    beforeEach(() => start({ MAX_PAYLOAD_BYTES: limit }));

    it('processes a frame of exactly MAX_PAYLOAD_BYTES normally', async () => {
      const alice = await joined(server!.wsUrl, 'alice', 'lobby');
      const { frame, content } = chatFrameOfSize('alice', limit);
      const echo = await alice.request(frame, 'chat_message');
      expect(echo).toMatchObject({
        type: 'chat_message',
        userId: 'alice',
        roomId: 'lobby',
        content,
      });
    });

    it('processes a frame just under MAX_PAYLOAD_BYTES normally', async () => {
      const alice = await joined(server!.wsUrl, 'alice', 'lobby');
      const echo = await alice.request(chatFrameOfSize('alice', limit - 1).frame, 'chat_message');
      expect(echo).toMatchObject({ type: 'chat_message', userId: 'alice', roomId: 'lobby' });
    });

    it('closes the connection with 1009 on a frame over MAX_PAYLOAD_BYTES', async () => {
      const alice = await joined(server!.wsUrl, 'alice', 'lobby');
      alice.send(chatFrameOfSize('alice', limit + 1).frame);
      expect((await alice.closed).code).toBe(1009);
    });

    it('closes with 1009 on a message whose fragments add up to more than MAX_PAYLOAD_BYTES', async () => {
      const alice = await joined(server!.wsUrl, 'alice', 'lobby');
      const { frame } = chatFrameOfSize('alice', limit + 100);
      const half = Math.floor(frame.length / 2);
      alice.socket.send(frame.slice(0, half), { fin: false });
      alice.socket.send(frame.slice(half), { fin: true });
      expect((await alice.closed).code).toBe(1009);
    });

    it('removes a connection closed for an oversized frame from its room', async () => {
      const alice = await joined(server!.wsUrl, 'alice', 'lobby');
      const bob = await joined(server!.wsUrl, 'bob', 'lobby');
      await alice.next('user_joined');
      bob.send('x'.repeat(limit + 1));
      expect((await bob.closed).code).toBe(1009);
      expect(await alice.next('user_left')).toEqual({
        type: 'user_left',
        userId: 'bob',
        roomId: 'lobby',
        message: 'bob left the room',
        timestamp: ISO_TIMESTAMP,
        ...POSITIONED,
      });
    });
  });

  describe('heartbeat', () => {
    const interval = 100;

    beforeEach(() => start({ HEARTBEAT_INTERVAL_MS: interval }));

    it('terminates a client that does not answer pings and tells its room it left', async () => {
      const alice = await joined(server!.wsUrl, 'alice', 'lobby');
      const mute = await connect(server!.wsUrl, { autoPong: false });
      await mute.request({ type: 'join', userId: 'mute', roomId: 'lobby' }, 'joined');
      await alice.next('user_joined');

      // Terminated without a close frame: the client sees an abnormal closure.
      expect((await mute.closed).code).toBe(1006);
      expect(await alice.next('user_left')).toEqual({
        type: 'user_left',
        userId: 'mute',
        roomId: 'lobby',
        message: 'mute left the room',
        timestamp: ISO_TIMESTAMP,
        ...POSITIONED,
      });
    });

    it('keeps a client that answers pings connected across several intervals', async () => {
      const alice = await joined(server!.wsUrl, 'alice', 'lobby');
      let closed = false;
      void alice.closed.then(() => (closed = true));

      // The server pings only clients that answered the previous ping, so a fifth ping proves that
      // four heartbeat checks passed.
      await pingsReceived(alice, 5);

      expect(closed).toBe(false);
      const echo = await alice.request(
        { type: 'chat_message', userId: 'alice', content: 'still here' },
        'chat_message',
      );
      expect(echo).toMatchObject({ userId: 'alice', roomId: 'lobby', content: 'still here' });
    });
  });
});
