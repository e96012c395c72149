import type { LoggerService } from '@nestjs/common';
import { eventually, within } from './support/eventually';
import { RecordingLogger } from './support/recording-logger';
import { get } from 'node:http';
import type { ClientOptions } from 'ws';
import type { AppConfig } from '../src/config/app-config';
import { HandshakeGuard } from '../src/transport/handshake-guard';
import { HttpGuard } from '../src/transport/http-guard';
import { chatFrame, isChat } from './support/expected-frames';
import { RawSocket, countResponses, rawSocket } from './support/raw-socket';
import { RunningApp, startApp } from './support/test-app';
import { TestClient, refusedUpgradeStatus } from './support/test-client';

/*
 * Attacks that stay inside every configured limit (issue "Hold under attacks that stay inside
 * every limit"), each at a size CI can afford: pipelining that is never read, idle and dripping
 * sockets, a body announced and never sent, a log flood of client errors, forged proxy headers,
 * a lone surrogate in a chat message. Every 127.0.0.0/8 address is its own client IP on Linux, so
 * `localAddress` plays the attacker and the victim from one machine.
 */

const WAIT_MS = 5_000;

/** GET on a fresh connection (no keep-alive pool) from `localAddress`. */
function httpGet(port: number, path: string, localAddress = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(
      { host: '127.0.0.1', port, path, localAddress, agent: false, timeout: WAIT_MS },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.once('timeout', () => request.destroy(new Error(`GET ${path} timed out`)));
    request.once('error', reject);
  });
}

const pipelined = (count: number): string =>
  'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(count);

describe('attacks inside the limits', () => {
  let server: RunningApp | undefined;
  const clients: TestClient[] = [];
  const sockets: RawSocket[] = [];

  async function start(
    overrides: Partial<AppConfig> = {},
    logger?: LoggerService,
  ): Promise<RunningApp> {
    server = await startApp(overrides, { logger });
    return server;
  }
  const running = (): RunningApp => {
    if (!server) throw new Error('no server started');
    return server;
  };
  const guard = () => running().app.get(HandshakeGuard);
  const httpGuard = () => running().app.get(HttpGuard);
  /** TCP connections the HTTP server holds, of every kind. */
  const serverConnections = (): Promise<number> =>
    new Promise((resolve, reject) =>
      running()
        .app.getHttpServer()
        .getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );

  async function raw(localAddress?: string): Promise<RawSocket> {
    const socket = await rawSocket(running().port, { localAddress });
    sockets.push(socket);
    return socket;
  }

  async function connect(localAddress?: string, options: ClientOptions = {}): Promise<TestClient> {
    const client = await TestClient.connect(running().wsUrl, { localAddress, ...options });
    clients.push(client);
    return client;
  }

  /** A joined client chats with itself: proof that the WebSocket side is served. */
  async function expectChatFlows(localAddress: string, userId: string): Promise<void> {
    const client = await connect(localAddress);
    await client.request({ type: 'join', userId, roomId: 'lobby' }, 'joined');
    const content = `${userId} is served`;
    expect(
      await client.request({ type: 'chat_message', userId, content }, isChat(content)),
    ).toEqual(chatFrame(userId, 'lobby', content));
  }

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.socket.destroy();
    const open = clients.splice(0);
    for (const client of open) client.terminate();
    await Promise.all(open.map((client) => client.closed));
    try {
      if (server) {
        await eventually('sockets watched by the HTTP guard', () => httpGuard().socketCount, {
          done: (value) => value === 0,
        });
        await eventually('client IPs (guard)', () => guard().ipCount, {
          done: (value) => value === 0,
        });
      }
    } finally {
      await server?.close();
      server = undefined;
    }
  });

  describe('HTTP pipelining that is never read', () => {
    it('answers at most HTTP_MAX_PIPELINED requests of a pipelined burst, then closes the socket', async () => {
      await start({ HTTP_MAX_PIPELINED: 8 });
      const attacker = await raw();
      attacker.socket.write(pipelined(2_000));
      await within(attacker.closed, 'the server closing the pipelining socket');
      expect(countResponses(attacker.received())).toBeLessThanOrEqual(8);
    });

    it('closes sockets that pipeline without reading while health and chat keep being served', async () => {
      await start();
      const baseline = await serverConnections();
      const attackers = await Promise.all(Array.from({ length: 10 }, () => raw('127.0.0.2')));
      for (const attacker of attackers) {
        // Never read: the server's responses pile up on its side unless it stops taking requests.
        attacker.socket.pause();
        attacker.socket.write(pipelined(5_000));
      }
      expect(await httpGet(running().port, '/health/live', '127.0.0.3')).toBe(200);
      await expectChatFlows('127.0.0.3', 'alice');
      // Every attacking socket is closed by the server although none of them reads.
      await eventually('server connections', serverConnections, {
        done: (value) => value === baseline + 1,
      });
    });
  });

  describe('idle and slow sockets', () => {
    const HTTP_HEADERS_TIMEOUT_MS = 300;

    it('counts sockets that are not yet WebSockets toward MAX_CONNECTIONS_PER_IP and answers 429 beyond it', async () => {
      await start({ MAX_CONNECTIONS_PER_IP: 5 });
      const held = await Promise.all(Array.from({ length: 5 }, () => raw('127.0.0.2')));
      const over = await Promise.all(Array.from({ length: 5 }, () => raw('127.0.0.2')));
      for (const socket of over) {
        await within(socket.closed, 'an over-cap socket being closed');
        expect(countResponses(socket.received(), 429)).toBe(1);
      }
      // A WebSocket upgrade from that address is refused as well, while another address is served.
      expect(await refusedUpgradeStatus(running().wsUrl, { localAddress: '127.0.0.2' })).toBe(429);
      expect(await httpGet(running().port, '/health/live', '127.0.0.3')).toBe(200);
      await expectChatFlows('127.0.0.3', 'alice');
      expect(held.every((socket) => !socket.socket.destroyed)).toBe(true);

      // A slot frees as an idle socket goes.
      held[0].socket.destroy();
      await eventually('idle sockets watched', () => httpGuard().socketCount, {
        done: (value) => value === 4,
      });
      await expectChatFlows('127.0.0.2', 'bob');
    });

    it('closes a socket that sends nothing within HTTP_HEADERS_TIMEOUT_MS', async () => {
      await start({ HTTP_HEADERS_TIMEOUT_MS });
      const silent = await Promise.all(Array.from({ length: 20 }, () => raw('127.0.0.2')));
      for (const socket of silent) await within(socket.closed, 'a silent socket being closed');
      expect(httpGuard().socketCount).toBe(0);
    });

    it('closes a socket that drips its headers slower than HTTP_HEADERS_TIMEOUT_MS allows', async () => {
      await start({ HTTP_HEADERS_TIMEOUT_MS });
      const drip = await raw();
      drip.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
      const dripper = setInterval(() => drip.socket.write('X-Drip: 1\r\n'), 50);
      try {
        await within(drip.closed, 'the dripping socket being closed');
      } finally {
        clearInterval(dripper);
      }
      expect(countResponses(drip.received())).toBe(0);
    });

    it('restarts the headers clock after each response, so a keep-alive socket that goes quiet is closed', async () => {
      await start({ HTTP_HEADERS_TIMEOUT_MS });
      const client = await raw();
      client.socket.write(pipelined(1));
      await eventually('the first response', () => countResponses(client.received(), 200), {
        done: (value) => value === 1,
      });
      await within(client.closed, 'the quiet keep-alive socket being closed');
    });

    it('answers a request announcing a body it never sends at once and closes the socket', async () => {
      await start();
      const attacker = await raw();
      attacker.socket.write(
        'POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: 10000000\r\n\r\n{"a":1}',
      );
      await within(attacker.closed, 'the socket being closed');
      expect(countResponses(attacker.received(), 404)).toBe(1);
    });

    it('closes connections over MAX_HTTP_CONNECTIONS as they are accepted and warns once', async () => {
      const logger = new RecordingLogger();
      await start({ MAX_HTTP_CONNECTIONS: 3, HTTP_HEADERS_TIMEOUT_MS: 60_000 }, logger);
      const held = [await raw('127.0.0.2'), await raw('127.0.0.3'), await raw('127.0.0.4')];
      await eventually('server connections', serverConnections, { done: (value) => value === 3 });
      const dropped = await Promise.all(
        Array.from({ length: 20 }, (_, i) => raw(`127.0.1.${i + 1}`)),
      );
      for (const socket of dropped) await within(socket.closed, 'a dropped connection closing');
      const warnings = logger.lines.filter((line) => line.message.includes('MAX_HTTP_CONNECTIONS'));
      expect(warnings).toEqual([{ level: 'warn', message: expect.stringContaining('reached') }]);

      for (const socket of held) socket.socket.destroy();
      await eventually('server connections', serverConnections, { done: (value) => value === 0 });
      expect(await httpGet(running().port, '/health/live', '127.0.0.5')).toBe(200);
    });
  });

  describe('log flood', () => {
    it('logs nothing above debug for a client that aborts bodies and hits unknown routes', async () => {
      const logger = new RecordingLogger();
      await start({}, logger);
      const before = logger.lines.length;
      const startup = logger.aboveDebug().length;
      for (let i = 0; i < 20; i++) {
        const attacker = await raw();
        attacker.socket.write(
          'POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            `Content-Length: 10000000\r\n\r\n${'{"x":"'.padEnd(83, 'y')}`,
        );
        attacker.socket.end();
        await within(attacker.closed, 'the aborted request being closed');
      }
      expect(await httpGet(running().port, '/no/such/route')).toBe(404);
      expect(logger.aboveDebug().slice(startup)).toEqual([]);
      // They are still there for whoever debugs.
      expect(logger.lines.slice(before).some((line) => line.level === 'debug')).toBe(true);
    });
  });

  describe('forged client addresses', () => {
    // 127.0.0.1 plays Fly's proxy; 127.0.0.2 and 127.0.0.3 are clients reaching the port directly.
    const BEHIND_PROXY: Partial<AppConfig> = {
      TRUST_PROXY: true,
      TRUSTED_PROXIES: '127.0.0.1',
      MAX_CONNECTIONS_PER_IP: 2,
    };
    const fly = (ip: string): ClientOptions => ({ headers: { 'Fly-Client-IP': ip } });

    it("does not let a client that is no trusted proxy take another IP's quota with Fly-Client-IP or X-Forwarded-For", async () => {
      await start(BEHIND_PROXY);
      await connect('127.0.0.2', fly('127.0.0.3'));
      await connect('127.0.0.2', { headers: { 'X-Forwarded-For': '127.0.0.3' } });
      expect(guard().ipCount).toBe(1);
      // The victim still has its whole quota.
      await connect('127.0.0.3');
      await connect('127.0.0.3');
      expect(await refusedUpgradeStatus(running().wsUrl, { localAddress: '127.0.0.3' })).toBe(429);
    });

    it('does not let a client escape its own quota by rotating the headers', async () => {
      await start(BEHIND_PROXY);
      await connect('127.0.0.2', fly('198.51.100.1'));
      await connect('127.0.0.2', { headers: { 'X-Forwarded-For': '198.51.100.2' } });
      for (const ip of ['198.51.100.3', '198.51.100.4', '198.51.100.5']) {
        expect(
          await refusedUpgradeStatus(running().wsUrl, {
            localAddress: '127.0.0.2',
            headers: { 'Fly-Client-IP': ip, 'X-Forwarded-For': ip },
          }),
        ).toBe(429);
      }
    });

    it('believes Fly-Client-IP from the trusted proxy, and reads X-Forwarded-For right to left', async () => {
      await start(BEHIND_PROXY);
      await connect('127.0.0.1', fly('203.0.113.1'));
      // A client-written entry at the left is not the client: the proxy appended the real one.
      await connect('127.0.0.1', { headers: { 'X-Forwarded-For': '203.0.113.9, 203.0.113.1' } });
      expect(await refusedUpgradeStatus(running().wsUrl, fly('203.0.113.1'))).toBe(429);
      await connect('127.0.0.1', { headers: { 'X-Forwarded-For': '203.0.113.1, 203.0.113.2' } });
      expect(guard().ipCount).toBe(2);
    });

    it('counts IPv6 clients per /64', async () => {
      await start(BEHIND_PROXY);
      await connect('127.0.0.1', fly('2001:db8:1:2::1'));
      await connect('127.0.0.1', fly('2001:db8:1:2:ffff:ffff:ffff:ffff'));
      expect(await refusedUpgradeStatus(running().wsUrl, fly('2001:db8:1:2::abcd'))).toBe(429);
      await connect('127.0.0.1', fly('2001:db8:1:3::1'));
      expect(guard().ipCount).toBe(2);
    });
  });

  describe('lone surrogates', () => {
    it('refuses a chat message with a lone surrogate with invalid_message and relays nothing', async () => {
      await start();
      const alice = await connect();
      const bob = await connect();
      await alice.request({ type: 'join', userId: 'alice', roomId: 'lobby' }, 'joined');
      await bob.request({ type: 'join', userId: 'bob', roomId: 'lobby' }, 'joined');
      await alice.next('user_joined');

      const error = await alice.request(
        '{"type":"chat_message","userId":"alice","content":"x\\ud800y"}',
        'error',
      );
      expect(error).toEqual({
        type: 'error',
        code: 'invalid_message',
        message: expect.stringContaining('content') as string,
      });
      // The next frame bob gets is the marker sent after it: the bad message went nowhere.
      alice.send({ type: 'chat_message', userId: 'alice', content: 'marker' });
      expect(await bob.next()).toEqual(chatFrame('alice', 'lobby', 'marker'));
    });
  });
});
