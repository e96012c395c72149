import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket, { ClientOptions } from 'ws';
import { HandshakeGuard } from '../src/transport/handshake-guard';
import type { AppConfig } from '../src/config/app-config';
import type { Session } from '../src/transport/session';
import { SessionRegistry } from '../src/transport/session-registry';
import { RoomHub } from '../src/rooms/room-hub';
import { RecordingLogger } from './support/recording-logger';
import { RunningApp, startApp } from './support/test-app';
import { eventually, within } from './support/eventually';
import {
  chatFrame,
  errorFrame,
  isChat,
  userLeftFrame,
  POSITIONED,
} from './support/expected-frames';
import {
  CloseInfo,
  Frame,
  FramePredicate,
  TestClient,
  refusedUpgradeStatus,
} from './support/test-client';

/*
 * The limits of the hardening issue, end to end: the per-connection rate limit and the abuse close,
 * slow-consumer eviction and bounded memory, the handshake caps (instance, per IP, Origin) and the
 * join timeout. Each test fails if its limit is taken out of the server.
 */

/** Rate and error limits lifted out of the way of tests about something else. */
const NO_RATE_LIMIT: Partial<AppConfig> = {
  RATE_LIMIT_PER_SECOND: 1_000_000,
  RATE_LIMIT_BURST: 1_000_000,
  ABUSE_ERRORS_MAX: 1_000_000,
};

const chat = (userId: string, content: string) => ({ type: 'chat_message', userId, content });

const isUserLeft =
  (userId: string): FramePredicate =>
  (frame) =>
    frame.type === 'user_left' && frame.userId === userId;

const isUserJoined =
  (userId: string): FramePredicate =>
  (frame) =>
    frame.type === 'user_joined' && frame.userId === userId;

const range = (count: number, from = 0) => Array.from({ length: count }, (_, i) => from + i);

/** Takes the next `count` frames of `client`, in arrival order. */
async function take(client: TestClient, count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await client.next());
  return frames;
}

/** The client's TCP socket: pausing it makes the client stop reading without closing anything. */
function tcpSocketOf(client: TestClient): Socket {
  return (client.socket as unknown as { _socket: Socket })._socket;
}

/** The garbage collector, exposed at run time when node was not started with --expose-gc. */
function garbageCollector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Memory the process holds for JavaScript objects and buffers, after a full collection. */
function liveBytes(gc: () => void): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

describe('limits', () => {
  let server: RunningApp | undefined;
  /** Every Session the server opened, in order (read through a spy on the registry). */
  let attached: Session[] = [];
  const clients: TestClient[] = [];
  const paused: Socket[] = [];

  async function start(
    overrides: Partial<AppConfig>,
    logger?: RecordingLogger,
  ): Promise<RunningApp> {
    const running = await startApp(overrides, { logger });
    server = running;
    attached = [];
    const registry = running.app.get(SessionRegistry);
    const open = registry.open.bind(registry);
    jest.spyOn(registry, 'open').mockImplementation((socket, ip, types) => {
      const session = open(socket, ip, types);
      attached.push(session);
      return session;
    });
    return running;
  }

  const running = (): RunningApp => {
    if (!server) throw new Error('no server started');
    return server;
  };
  const registry = () => running().app.get(SessionRegistry);
  const guard = () => running().app.get(HandshakeGuard);
  const hub = () => running().app.get(RoomHub);

  async function connect(pathAndQuery = '', options?: ClientOptions): Promise<TestClient> {
    const client = await TestClient.connect(`${running().wsUrl}${pathAndQuery}`, options);
    clients.push(client);
    return client;
  }

  async function joined(userId: string, roomId: string): Promise<TestClient> {
    const client = await connect();
    await client.request({ type: 'join', userId, roomId }, 'joined');
    return client;
  }

  /** The server side of the connection `userId` joined with. */
  function connectionOf(userId: string): Session {
    const connection = attached.find((c) => c.userId === userId);
    if (!connection) throw new Error(`no connection of ${userId}`);
    return connection;
  }

  function pause(client: TestClient): void {
    const socket = tcpSocketOf(client);
    socket.pause();
    paused.push(socket);
  }

  /** Closes `client` and waits until the server has released it everywhere. */
  async function closeAndRelease(client: TestClient): Promise<void> {
    const open = guard().openCount;
    await client.close();
    await eventually('open connections after a close', () => guard().openCount, {
      done: (n) => n === open - 1,
    });
  }

  /** Every count the server keeps per connection is back to zero. */
  async function expectAllReleased(): Promise<void> {
    await eventually('open connections (guard)', () => guard().openCount, { done: (n) => n === 0 });
    await eventually('client IPs (guard)', () => guard().ipCount, { done: (n) => n === 0 });
    await eventually('registered connections', () => registry().size, { done: (n) => n === 0 });
    await eventually('join timers', () => registry().awaitingJoinCount, { done: (n) => n === 0 });
    await eventually('room members', () => hub().memberCount, { done: (n) => n === 0 });
  }

  afterEach(async () => {
    for (const socket of paused.splice(0)) socket.resume();
    const open = clients.splice(0);
    for (const client of open) client.terminate();
    await Promise.all(open.map((client) => client.closed));
    try {
      if (server) await expectAllReleased();
    } finally {
      await server?.close();
      server = undefined;
    }
  });

  describe('per-connection rate limit', () => {
    const RATE_LIMIT_PER_SECOND = 5;
    const RATE_LIMIT_BURST = 10;

    /**
     * Sends distinct markers until one is accepted (the bucket refilled); every refused one must be
     * answered with `rate_limited`. Returns the accepted marker's content.
     */
    async function sendOnceRefilled(client: TestClient, userId: string): Promise<string> {
      for (let attempt = 0; attempt < 200; attempt++) {
        const content = `marker ${attempt}`;
        const reply = await client.request(chat(userId, content));
        if (reply.type === 'chat_message') {
          expect(reply.content).toBe(content);
          return content;
        }
        expect(reply).toEqual(errorFrame('rate_limited'));
        await delay(20);
      }
      throw new Error('the rate limit never let a message through again');
    }

    it('broadcasts exactly RATE_LIMIT_BURST messages of a burst and answers each of the rest with rate_limited', async () => {
      await start({
        RATE_LIMIT_PER_SECOND,
        RATE_LIMIT_BURST,
        ABUSE_ERRORS_MAX: 1_000_000,
      });
      // Joined through the URL, which costs no message: alice's bucket is full at the burst.
      const alice = await connect('/?userId=alice');
      await alice.next('joined');
      const bob = await joined('bob', 'alice');
      await alice.next(isUserJoined('bob'));

      const burst = range(30).map((i) => `burst ${i}`);
      for (const content of burst) alice.send(chat('alice', content));

      const replies = await take(alice, burst.length);
      const accepted = burst.slice(0, RATE_LIMIT_BURST);
      expect(replies.slice(0, RATE_LIMIT_BURST)).toEqual(
        accepted.map((content) => chatFrame('alice', 'alice', content)),
      );
      expect(replies.slice(RATE_LIMIT_BURST)).toEqual(
        range(burst.length - RATE_LIMIT_BURST).map(() => errorFrame('rate_limited')),
      );
      for (const reply of replies.slice(RATE_LIMIT_BURST)) {
        expect(Object.keys(reply).sort()).toEqual(['code', 'message', 'type']);
        expect((reply.message as string).length).toBeGreaterThan(0);
      }

      // Once the bucket refills a marker goes through; everything alice sent before it has been
      // handled, so bob's inbox holds all that was ever broadcast of the burst.
      const marker = await sendOnceRefilled(alice, 'alice');
      await bob.next(isChat(marker));
      expect(bob.unread()).toEqual(accepted.map((content) => chatFrame('alice', 'alice', content)));
      expect(alice.unread()).toEqual([]);
      expect(alice.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('closes a sustained flooder with 1008 while a polite sender keeps reaching the room', async () => {
      const ABUSE_ERRORS_MAX = 20;
      await start({
        RATE_LIMIT_PER_SECOND,
        RATE_LIMIT_BURST,
        ABUSE_ERRORS_MAX,
        ABUSE_WINDOW_MS: 5_000,
      });
      const bob = await joined('bob', 'lobby');
      const carol = await joined('carol', 'lobby');
      const mallory = await joined('mallory', 'lobby');
      await bob.next(isUserJoined('carol'));
      await bob.next(isUserJoined('mallory'));

      const polite: string[] = [];
      const received: string[] = [];
      const say = (content: string) => {
        polite.push(content);
        carol.send(chat('carol', content));
      };
      say('before the flood');
      received.push((await bob.next(isChat('before the flood'))).content as string);

      let flooded = 0;
      for (let round = 0; mallory.socket.readyState === WebSocket.OPEN && round < 500; round++) {
        for (let i = 0; i < 10; i++) mallory.send(chat('mallory', `flood ${flooded++}`));
        if (round < 3) say(`during the flood ${round}`);
        await delay(5);
      }

      expect(await within(mallory.closed, 'the flooder being closed')).toEqual({
        code: 1008,
        reason: 'too many errors',
      });
      // Refusals count toward ABUSE_ERRORS_MAX once mallory's rate over the whole abuse window is
      // over the limit: the first ones (at most the window's allowance) are answered uncounted.
      // Then every error frame up to the one over the limit was sent; none after it.
      const errors = mallory.unread('error');
      const allowance = RATE_LIMIT_BURST + RATE_LIMIT_PER_SECOND * 5;
      expect(errors.length).toBeGreaterThan(ABUSE_ERRORS_MAX);
      expect(errors.length).toBeLessThanOrEqual(ABUSE_ERRORS_MAX + 1 + allowance);
      expect(errors).toEqual(range(errors.length).map(() => errorFrame('rate_limited')));
      expect(await bob.next(isUserLeft('mallory'))).toEqual(userLeftFrame('mallory', 'lobby'));

      say('after the flood');
      received.push((await bob.next(isChat('after the flood'))).content as string);
      const unreadPolite = bob
        .unread('chat_message')
        .filter((frame) => frame.userId === 'carol')
        .map((frame) => frame.content as string);
      expect([received[0], ...unreadPolite, received[1]]).toEqual(polite);
      expect(bob.socket.readyState).toBe(WebSocket.OPEN);
      expect(carol.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('abuse by error frames', () => {
    const ABUSE_ERRORS_MAX = 5;

    it('closes with 1008 "too many errors" after more than ABUSE_ERRORS_MAX invalid frames', async () => {
      await start({ ...NO_RATE_LIMIT, ABUSE_ERRORS_MAX, ABUSE_WINDOW_MS: 5_000 });
      const bob = await joined('bob', 'lobby');
      const mallory = await joined('mallory', 'lobby');
      await bob.next(isUserJoined('mallory'));

      for (let i = 0; i <= ABUSE_ERRORS_MAX; i++) mallory.send('{not json');

      expect(await within(mallory.closed, 'the abuser being closed')).toEqual({
        code: 1008,
        reason: 'too many errors',
      });
      expect(mallory.unread()).toEqual(
        range(ABUSE_ERRORS_MAX + 1).map(() => errorFrame('invalid_json')),
      );
      // The evicted connection leaves its room at once.
      expect(await bob.next(isUserLeft('mallory'))).toEqual(userLeftFrame('mallory', 'lobby'));
    });

    it('keeps a connection that caused exactly ABUSE_ERRORS_MAX errors open and usable', async () => {
      await start({ ...NO_RATE_LIMIT, ABUSE_ERRORS_MAX, ABUSE_WINDOW_MS: 5_000 });
      const client = await connect();
      for (let i = 0; i < ABUSE_ERRORS_MAX; i++) client.send('{not json');
      expect(await take(client, ABUSE_ERRORS_MAX)).toEqual(
        range(ABUSE_ERRORS_MAX).map(() => errorFrame('invalid_json')),
      );

      expect(await client.request({ type: 'join', userId: 'alice', roomId: 'lobby' })).toEqual({
        type: 'joined',
        userId: 'alice',
        roomId: 'lobby',
        message: 'Joined room: lobby',
        ...POSITIONED,
      });
      expect(await client.request(chat('alice', 'still here'))).toEqual(
        chatFrame('alice', 'lobby', 'still here'),
      );
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
    });

    it('counts error frames of every kind towards ABUSE_ERRORS_MAX', async () => {
      await start({ ...NO_RATE_LIMIT, ABUSE_ERRORS_MAX, ABUSE_WINDOW_MS: 5_000 });
      const client = await connect();
      const bad: [string | object | Buffer, string][] = [
        ['{not json', 'invalid_json'],
        [{ type: 'dance' }, 'unknown_type'],
        [chat('alice', 'too early'), 'not_joined'],
        [{ type: 'join', userId: '' }, 'invalid_message'],
        [Buffer.from([1, 2, 3]), 'unsupported'],
        ['[]', 'invalid_message'],
      ];
      expect(bad.length).toBe(ABUSE_ERRORS_MAX + 1);
      for (const [message] of bad) client.send(message);

      expect(await within(client.closed, 'the abuser being closed')).toEqual({
        code: 1008,
        reason: 'too many errors',
      });
      expect(client.unread()).toEqual(bad.map(([, code]) => errorFrame(code)));
    });

    it('forgets errors older than ABUSE_WINDOW_MS', async () => {
      const ABUSE_WINDOW_MS = 300;
      await start({ ...NO_RATE_LIMIT, ABUSE_ERRORS_MAX, ABUSE_WINDOW_MS });
      const client = await connect();
      for (let i = 0; i < ABUSE_ERRORS_MAX; i++) client.send('{not json');
      await take(client, ABUSE_ERRORS_MAX);
      // Waits out the window (not a measurement): the first errors no longer count.
      await delay(ABUSE_WINDOW_MS + 100);
      for (let i = 0; i < ABUSE_ERRORS_MAX; i++) client.send('{not json');
      expect(await take(client, ABUSE_ERRORS_MAX)).toEqual(
        range(ABUSE_ERRORS_MAX).map(() => errorFrame('invalid_json')),
      );
      expect(await client.request({ type: 'join', userId: 'alice' })).toMatchObject({
        type: 'joined',
      });
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('slow consumer', () => {
    const MAX_BUFFERED_BYTES = 64 * 1024;
    const CONTENT_BYTES = 8 * 1024;
    /** Messages in flight at once: the readers' own backlog stays far below the limit. */
    const BATCH = 6;
    const FLOOD_AFTER_EVICTION_BYTES = 50 * 1024 * 1024;
    const MEMORY_GROWTH_BOUND = 40 * 1024 * 1024;

    it('closes a member that stops reading with 1013; the others get every message and memory stays bounded', async () => {
      await start({
        ...NO_RATE_LIMIT,
        MAX_BUFFERED_BYTES,
        // The evicted client resumes reading at the end of the test; its socket must wait for it.
        CLOSE_TIMEOUT_MS: 60_000,
      });
      const alice = await joined('alice', 'lobby');
      const carol = await joined('carol', 'lobby');
      const sam = await joined('sam', 'lobby');
      await alice.next(isUserJoined('sam'));
      await carol.next(isUserJoined('sam'));
      const samOnServer = connectionOf('sam');
      const filler = 'x'.repeat(CONTENT_BYTES);
      const frameBytes = Buffer.byteLength(
        JSON.stringify(chatFrame('alice', 'lobby', `flood 999999 ${filler}`)),
      );
      // The frame that crossed the limit, its header, and the close frame queued behind it.
      const bufferedBound = MAX_BUFFERED_BYTES + frameBytes + 16 + 131;

      // The readers take only chat frames below, so a user_left frame stays in their inbox.
      const samLeft = () => carol.unread('user_left').length > 0;

      // The backlog is read right after every write the server makes to sam's socket.
      let maxBuffered = 0;
      const send = samOnServer.send.bind(samOnServer);
      jest.spyOn(samOnServer, 'send').mockImplementation((payload) => {
        send(payload);
        maxBuffered = Math.max(maxBuffered, samOnServer.bufferedBytes);
      });

      /** Alice sends BATCH messages; alice and carol must each receive all of them, in order. */
      const sendBatch = async (label: string, from: number) => {
        const contents = range(BATCH, from).map((i) => `${label} ${i} ${filler}`);
        for (const content of contents) alice.send(chat('alice', content));
        for (const reader of [alice, carol]) {
          for (const content of contents) {
            const frame = await reader.next('chat_message');
            if (frame.content !== content) {
              throw new Error(`expected ${content.slice(0, 20)}, got ${String(frame.content)}`);
            }
          }
        }
      };

      pause(sam);
      let sent = 0;
      // Kernel socket buffers take the first megabytes; then the server-side backlog grows.
      while (!samLeft() && sent < 2_000) {
        await sendBatch('flood', sent);
        sent += BATCH;
      }
      if (!samLeft()) throw new Error(`no user_left for the slow client after ${sent} messages`);
      expect(await alice.next('user_left')).toEqual(userLeftFrame('sam', 'lobby'));
      expect(await carol.next('user_left')).toEqual(userLeftFrame('sam', 'lobby'));
      expect(hub().memberCount).toBe(2);
      expect(samOnServer.isOpen).toBe(false);
      expect(maxBuffered).toBeGreaterThan(MAX_BUFFERED_BYTES);
      expect(maxBuffered).toBeLessThanOrEqual(bufferedBound);

      // Flood the room far past the limit: nothing more is queued for the evicted client.
      const gc = garbageCollector();
      const before = liveBytes(gc);
      const rssBefore = process.memoryUsage().rss;
      const perBatch = BATCH * CONTENT_BYTES;
      for (let i = 0; i * perBatch < FLOOD_AFTER_EVICTION_BYTES; i++) {
        await sendBatch('after', i * BATCH);
      }
      const growth = liveBytes(gc) - before;
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      expect(samOnServer.bufferedBytes).toBeLessThanOrEqual(bufferedBound);
      expect(maxBuffered).toBeLessThanOrEqual(bufferedBound);
      expect(growth).toBeLessThan(MEMORY_GROWTH_BOUND);
      expect(rssGrowth).toBeLessThan(MEMORY_GROWTH_BOUND);

      // Reading again, sam finds what was queued before the eviction, in order, then the close.
      tcpSocketOf(sam).resume();
      expect(await within(sam.closed, 'the slow client seeing its close')).toEqual({
        code: 1013,
        reason: 'slow consumer',
      });
      const samChat = sam.unread('chat_message').map((frame) => frame.content as string);
      expect(samChat.length).toBeGreaterThan(0);
      // At most what was sent before the eviction (all of it when the frame that overflowed the
      // backlog was the flood's last): none of the messages sent after it.
      expect(samChat.length).toBeLessThanOrEqual(sent);
      expect(samChat).toEqual(range(samChat.length).map((i) => `flood ${i} ${filler}`));
      expect(alice.socket.readyState).toBe(WebSocket.OPEN);
      expect(carol.socket.readyState).toBe(WebSocket.OPEN);
    }, 20_000);
  });

  describe('connection caps at the handshake', () => {
    it('refuses the upgrade over MAX_CONNECTIONS with 503 and accepts again after a close', async () => {
      await start({ MAX_CONNECTIONS: 3 });
      const first = await connect();
      await connect();
      await connect();
      expect(guard().openCount).toBe(3);

      expect(await refusedUpgradeStatus(running().wsUrl)).toBe(503);
      await expect(TestClient.connect(running().wsUrl)).rejects.toThrow('HTTP 503');
      expect(guard().openCount).toBe(3);

      await closeAndRelease(first);
      const again = await connect();
      expect(await again.request({ type: 'join', userId: 'alice' })).toMatchObject({
        type: 'joined',
      });
      expect(await refusedUpgradeStatus(running().wsUrl)).toBe(503);
    });

    it('refuses a third connection from one IP with 429 under MAX_CONNECTIONS_PER_IP=2', async () => {
      await start({ MAX_CONNECTIONS_PER_IP: 2 });
      const first = await connect();
      await connect();
      expect(await refusedUpgradeStatus(running().wsUrl)).toBe(429);
      expect(guard().openCount).toBe(2);
      expect(guard().ipCount).toBe(1);
      expect(attached.map((c) => c.remoteAddress)).toEqual(['127.0.0.1', '127.0.0.1']);

      await closeAndRelease(first);
      await connect();
      expect(await refusedUpgradeStatus(running().wsUrl)).toBe(429);
    });

    it('counts connections per forwarded IP when TRUST_PROXY is set', async () => {
      await start({ MAX_CONNECTIONS_PER_IP: 2, TRUST_PROXY: true });
      const forwarded = (ip: string): ClientOptions => ({ headers: { 'X-Forwarded-For': ip } });
      const fly = (ip: string): ClientOptions => ({ headers: { 'Fly-Client-IP': ip } });

      // Read right to left: the client is the first address that is not a trusted proxy
      // (loopback here), whatever the client itself wrote further left.
      await connect('', forwarded('203.0.113.1'));
      await connect('', forwarded('198.51.100.99, 203.0.113.1, 127.0.0.5'));
      expect(await refusedUpgradeStatus(running().wsUrl, forwarded('203.0.113.1'))).toBe(429);
      await connect('', forwarded('203.0.113.2'));

      await connect('', fly('198.51.100.7'));
      // Fly-Client-IP wins over X-Forwarded-For.
      await connect('', {
        headers: { 'Fly-Client-IP': '198.51.100.7', 'X-Forwarded-For': '203.0.113.2' },
      });
      expect(await refusedUpgradeStatus(running().wsUrl, fly('198.51.100.7'))).toBe(429);

      // Connections without the headers count under the socket's own address.
      await connect();
      await connect();
      expect(await refusedUpgradeStatus(running().wsUrl)).toBe(429);

      expect(guard().openCount).toBe(7);
      expect(guard().ipCount).toBe(4);
      expect(attached.map((c) => c.remoteAddress)).toEqual([
        '203.0.113.1',
        '203.0.113.1',
        '203.0.113.2',
        '198.51.100.7',
        '198.51.100.7',
        '127.0.0.1',
        '127.0.0.1',
      ]);
    });

    it("on Fly, counts each client by Fly-Client-IP from Fly's proxy without TRUST_PROXY", async () => {
      // Fly's proxy connects from 172.16.0.0/12, which a test cannot connect from: loopback
      // stands in for it here (src/transport/client-ip.spec.ts checks the default range).
      const logger = new RecordingLogger();
      await start(
        { FLY_APP_NAME: 'pixide-chat', TRUSTED_PROXIES: '127.0.0.1', MAX_CONNECTIONS_PER_IP: 1 },
        logger,
      );
      const fly = (ip: string): ClientOptions => ({ headers: { 'Fly-Client-IP': ip } });
      await connect('', fly('198.51.100.7'));
      await connect('', fly('198.51.100.8'));
      expect(await refusedUpgradeStatus(running().wsUrl, fly('198.51.100.7'))).toBe(429);
      expect(guard().ipCount).toBe(2);
      expect(logger.lines.filter((line) => line.message.includes('Ignored'))).toEqual([]);
    });

    it("on Fly, ignores Fly-Client-IP from a peer that is not Fly's proxy, and warns once", async () => {
      const logger = new RecordingLogger();
      await start({ FLY_APP_NAME: 'pixide-chat', MAX_CONNECTIONS_PER_IP: 2 }, logger);
      const fly = (ip: string): ClientOptions => ({ headers: { 'Fly-Client-IP': ip } });
      await connect('', fly('198.51.100.7'));
      await connect('', fly('198.51.100.8'));
      // Both counted under the peer (loopback), whatever they claimed.
      expect(await refusedUpgradeStatus(running().wsUrl, fly('198.51.100.9'))).toBe(429);
      expect(guard().ipCount).toBe(1);
      const ignored = logger.lines.filter((line) => line.message.includes('Ignored'));
      expect(ignored).toEqual([
        {
          level: 'warn',
          message: expect.stringContaining(
            'Ignored Fly-Client-IP from 127.0.0.1: the peer is not in TRUSTED_PROXIES (172.16.0.0/12)',
          ) as string,
        },
      ]);
    });

    it('ignores Fly-Client-IP and X-Forwarded-For when TRUST_PROXY is off', async () => {
      await start({ MAX_CONNECTIONS_PER_IP: 2, TRUST_PROXY: false });
      await connect('', { headers: { 'X-Forwarded-For': '203.0.113.1' } });
      await connect('', { headers: { 'Fly-Client-IP': '198.51.100.7' } });
      expect(
        await refusedUpgradeStatus(running().wsUrl, {
          headers: { 'X-Forwarded-For': '203.0.113.9', 'Fly-Client-IP': '198.51.100.9' },
        }),
      ).toBe(429);
      expect(guard().ipCount).toBe(1);
      expect(attached.map((c) => c.remoteAddress)).toEqual(['127.0.0.1', '127.0.0.1']);
    });
  });

  describe('origin allowlist', () => {
    const ALLOWED = 'https://app.example.com';

    it.each([
      'https://evil.example',
      'https://app.example.com.evil.io',
      'http://app.example.com',
      'https://app.example.com:8443',
      'null',
    ])('refuses Origin %s with 403 before any WebSocket exists', async (origin) => {
      await start({ ALLOWED_ORIGINS: ALLOWED });
      expect(await refusedUpgradeStatus(running().wsUrl, { origin })).toBe(403);
      expect(guard().openCount).toBe(0);
      expect(registry().size).toBe(0);
    });

    it('accepts the allowed Origin and a handshake without Origin', async () => {
      await start({ ALLOWED_ORIGINS: `${ALLOWED}, https://other.example.com` });
      const browser = await connect('', { origin: ALLOWED });
      const other = await connect('', { origin: 'https://other.example.com' });
      const tool = await connect();
      for (const [client, userId] of [
        [browser, 'alice'],
        [other, 'bob'],
        [tool, 'carol'],
      ] as const) {
        expect(await client.request({ type: 'join', userId })).toMatchObject({ type: 'joined' });
      }
    });

    it('accepts any Origin when ALLOWED_ORIGINS is unset', async () => {
      await start({});
      const client = await connect('', { origin: 'https://evil.example' });
      expect(await client.request({ type: 'join', userId: 'alice' })).toMatchObject({
        type: 'joined',
      });
    });
  });

  describe('join timeout', () => {
    const JOIN_TIMEOUT_MS = 200;

    it('closes a connection that has not joined within JOIN_TIMEOUT_MS with 1008', async () => {
      await start({ JOIN_TIMEOUT_MS });
      const alice = await joined('alice', 'lobby');
      const auto = await connect('/?userId=bob');
      await auto.next('joined');
      const idle = await connect();

      const close: CloseInfo = await within(idle.closed, 'the idle connection being closed');
      expect(close).toEqual({ code: 1008, reason: 'join timeout' });

      // Joined connections outlive their timer and still chat.
      await eventually('join timers', () => registry().awaitingJoinCount, { done: (n) => n === 0 });
      expect(await alice.request(chat('alice', 'still here'), 'chat_message')).toEqual(
        chatFrame('alice', 'lobby', 'still here'),
      );
      expect(await auto.request(chat('bob', 'me too'), 'chat_message')).toEqual(
        chatFrame('bob', 'bob', 'me too'),
      );
      expect(registry().size).toBe(2);

      await closeAndRelease(alice);
      await closeAndRelease(auto);
      await expectAllReleased();
    });
  });
});
