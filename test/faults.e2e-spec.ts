import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { HandshakeGuard } from '../src/transport/handshake-guard';
import { SessionRegistry } from '../src/transport/session-registry';
import { RoomHub } from '../src/rooms/room-hub';
import { RoomStore } from '../src/rooms/room-store';
import { RunningApp, startApp } from './support/test-app';
import { TestClient, joinedClient } from './support/test-client';
import { errorFrame, isChat, POSITIONED } from './support/expected-frames';
import { eventually } from './support/eventually';
import { FaultKind, FaultPlan, faultyProvider } from './support/faults';

/*
 * Fault containment (issue 3, "No crash, no leak"): a handler that throws or rejects, garbage
 * written on the TCP socket under a WebSocket, and connections reset during the handshake each
 * stay with the connection that caused them. The server answers or closes that one connection as
 * documented and keeps serving everyone else, and its counts return to what they were.
 */

const SETTLE_TIMEOUT_MS = 5_000;

interface Counts {
  connections: number;
  joinTimers: number;
  hubRooms: number;
  hubMembers: number;
  storeRooms: number;
  handshakesOpen: number;
  handshakeIps: number;
}

function counter(server: RunningApp): () => Promise<Counts> {
  const registry = server.app.get(SessionRegistry);
  const hub = server.app.get(RoomHub);
  const store = server.app.get<RoomStore>(RoomStore);
  const guard = server.app.get(HandshakeGuard);
  return async () => ({
    connections: registry.size,
    joinTimers: registry.awaitingJoinCount,
    hubRooms: hub.roomCount,
    hubMembers: hub.memberCount,
    storeRooms: await store.roomCount(),
    handshakesOpen: guard.openCount,
    handshakeIps: guard.ipCount,
  });
}

/** Waits until the server's counts equal `expected`, then asserts them. */
async function expectCounts(server: RunningApp, expected: Partial<Counts>): Promise<void> {
  const read = counter(server);
  const matches = (counts: Counts) =>
    Object.entries(expected).every(([key, value]) => counts[key as keyof Counts] === value);
  const counts = await eventually(`the counts ${JSON.stringify(expected)}`, read, {
    done: matches,
    timeoutMs: SETTLE_TIMEOUT_MS,
  });
  expect(counts).toMatchObject(expected);
}

let markers = 0;

/** A fresh client joins `roomId`, and its chat message reaches it and every `observer`. */
async function expectServes(
  server: RunningApp,
  roomId: string,
  observers: TestClient[] = [],
): Promise<void> {
  const fresh = await joinedClient(server.wsUrl, 'fresh', roomId);
  try {
    const content = `marker ${++markers}`;
    const arrivals = [fresh, ...observers].map((client) => client.next(isChat(content)));
    fresh.send({ type: 'chat_message', userId: 'fresh', content });
    for (const frame of await Promise.all(arrivals)) {
      expect(frame).toMatchObject({ type: 'chat_message', userId: 'fresh', roomId, content });
    }
  } finally {
    await fresh.close();
  }
  for (const observer of observers) {
    await observer.next('user_left');
  }
}

describe('fault containment', () => {
  let server: RunningApp;
  const clients: TestClient[] = [];

  async function joined(userId: string, roomId: string): Promise<TestClient> {
    const client = await joinedClient(server.wsUrl, userId, roomId);
    clients.push(client);
    return client;
  }

  async function connect(): Promise<TestClient> {
    const client = await TestClient.connect(server.wsUrl);
    clients.push(client);
    return client;
  }

  /** Faults of the room store: the app is built with its store behind them (inert until armed). */
  let storeFaults: FaultPlan;

  beforeEach(async () => {
    storeFaults = new FaultPlan();
    server = await startApp({}, { override: faultyProvider(RoomStore, storeFaults) });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await expectCounts(server, {
      connections: 0,
      joinTimers: 0,
      hubRooms: 0,
      hubMembers: 0,
      storeRooms: 0,
      handshakesOpen: 0,
      handshakeIps: 0,
    });
    await server.close();
  });

  describe('an exception inside a handler', () => {
    const failures: FaultKind[] = ['throws', 'rejects'];

    it.each(failures)(
      'when the room store %s, answers internal to that client only, whose next join works',
      async (how) => {
        const bob = await joined('bob', 'lobby');
        const carol = await joined('carol', 'lobby');
        await bob.next('user_joined');
        storeFaults.failNext('add', how);
        const alice = await connect();

        expect(await alice.request({ type: 'join', userId: 'alice', roomId: 'lobby' })).toEqual(
          errorFrame('internal', 'internal server error'),
        );
        expect(storeFaults.pending).toBe(0);

        // Bob and Carol saw nothing of it and still talk; Alice is in no room.
        const content = `marker ${++markers}`;
        const arrivals = [bob, carol].map((client) => client.next(isChat(content)));
        carol.send({ type: 'chat_message', userId: 'carol', content });
        await Promise.all(arrivals);
        expect(bob.unread()).toEqual([]);
        expect(carol.unread()).toEqual([]);
        expect(
          await alice.request({ type: 'chat_message', userId: 'alice', content: 'hi' }),
        ).toEqual(errorFrame('not_joined'));

        // The same connection joins on the next try, as everyone sees.
        expect(await alice.request({ type: 'join', userId: 'alice', roomId: 'lobby' })).toEqual({
          type: 'joined',
          roomId: 'lobby',
          userId: 'alice',
          message: 'Joined room: lobby',
          ...POSITIONED,
        });
        await Promise.all(
          [bob, carol].map(async (client) =>
            expect(await client.next('user_joined')).toMatchObject({ userId: 'alice' }),
          ),
        );
        const hello = `hello ${++markers}`;
        const greetings = [alice, bob, carol].map((client) => client.next(isChat(hello)));
        alice.send({ type: 'chat_message', userId: 'alice', content: hello });
        await Promise.all(greetings);
        await expectCounts(server, { connections: 3, hubMembers: 3, hubRooms: 1, storeRooms: 1 });
      },
    );

    it('when the room store fails in the middle of a switch, the client has left the old room and can join again', async () => {
      const alice = await joined('alice', 'lobby');
      const bob = await joined('bob', 'lobby');
      await alice.next('user_joined');
      const store = server.app.get<RoomStore>(RoomStore);
      storeFaults.failNext('add');

      expect(
        await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }),
      ).toEqual(errorFrame('internal', 'internal server error'));
      expect(storeFaults.pending).toBe(0);

      // Leaving came first and happened: Bob sees Alice go, and store and hub agree on it.
      expect(await bob.next('user_left')).toMatchObject({ userId: 'alice', roomId: 'lobby' });
      expect((await store.members('lobby', 10)).users.map((m) => m.userId)).toEqual(['bob']);
      expect((await store.members('games', 10)).users).toEqual([]);
      await expectCounts(server, { connections: 2, hubMembers: 1, hubRooms: 1, storeRooms: 1 });
      expect(await alice.request({ type: 'chat_message', userId: 'alice', content: 'hi' })).toEqual(
        errorFrame('not_joined'),
      );

      expect(
        await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }),
      ).toMatchObject({ type: 'joined', roomId: 'games' });
      expect((await store.members('games', 10)).users.map((m) => m.userId)).toEqual(['alice']);
      await expectServes(server, 'lobby', [bob]);
    });
  });

  describe('garbage written on the TCP socket after the handshake', () => {
    interface RawFrame {
      fin?: boolean;
      /** RSV1..RSV3 as the three bits below FIN (0b100 is RSV1). */
      rsv?: number;
      opcode: number;
      payload?: Buffer;
      masked?: boolean;
      /** Announced payload length, when it is to differ from the payload's. */
      length?: bigint;
    }

    /** One WebSocket frame as a client would put it on the wire (RFC 6455 §5.2). */
    function wsFrame({
      fin = true,
      rsv = 0,
      opcode,
      payload = Buffer.alloc(0),
      masked = true,
      length = BigInt(payload.length),
    }: RawFrame): Buffer {
      const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
      const maskBit = masked ? 0x80 : 0;
      let extended = Buffer.alloc(0);
      if (length < 126n) head.push(maskBit | Number(length));
      else if (length < 65_536n) {
        head.push(maskBit | 126);
        extended = Buffer.alloc(2);
        extended.writeUInt16BE(Number(length));
      } else {
        head.push(maskBit | 127);
        extended = Buffer.alloc(8);
        extended.writeBigUInt64BE(length);
      }
      if (!masked) return Buffer.concat([Buffer.from(head), extended, payload]);
      const key = randomBytes(4);
      const body = Buffer.from(payload.map((byte, i) => byte ^ key[i % 4]));
      return Buffer.concat([Buffer.from(head), extended, key, body]);
    }

    const text = (value: string) => Buffer.from(value);
    const closePayload = (code: number, reason: Buffer = Buffer.alloc(0)) => {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      return Buffer.concat([payload, reason]);
    };
    const join = text('{"type":"join","userId":"mallory","roomId":"lobby"}');

    const closingCases: [string, Buffer, number][] = [
      ['an unmasked frame', wsFrame({ opcode: 0x1, payload: join, masked: false }), 1002],
      ['reserved data opcode 0x3', wsFrame({ opcode: 0x3, payload: join }), 1002],
      ['reserved control opcode 0xB', wsFrame({ opcode: 0xb }), 1002],
      ['RSV1 set without an extension', wsFrame({ rsv: 0b100, opcode: 0x1, payload: join }), 1002],
      ['RSV2 set', wsFrame({ rsv: 0b010, opcode: 0x1, payload: join }), 1002],
      ['RSV3 set', wsFrame({ rsv: 0b001, opcode: 0x1, payload: join }), 1002],
      ['a continuation with nothing to continue', wsFrame({ opcode: 0x0, payload: join }), 1002],
      ['a fragmented ping', wsFrame({ fin: false, opcode: 0x9 }), 1002],
      [
        'a ping with a 126-byte payload',
        wsFrame({ opcode: 0x9, payload: Buffer.alloc(126) }),
        1002,
      ],
      [
        'a new text frame inside a fragmented message',
        Buffer.concat([
          wsFrame({ fin: false, opcode: 0x1, payload: text('{"type":') }),
          wsFrame({ opcode: 0x1, payload: text('"join"}') }),
        ]),
        1002,
      ],
      ['a close frame with code 1005', wsFrame({ opcode: 0x8, payload: closePayload(1005) }), 1002],
      ['a close frame with code 1006', wsFrame({ opcode: 0x8, payload: closePayload(1006) }), 1002],
      ['a close frame with code 999', wsFrame({ opcode: 0x8, payload: closePayload(999) }), 1002],
      ['a close frame with code 5000', wsFrame({ opcode: 0x8, payload: closePayload(5000) }), 1002],
      [
        'a close frame with a one-byte payload',
        wsFrame({ opcode: 0x8, payload: Buffer.from([0x03]) }),
        1002,
      ],
      [
        'a close frame with an invalid UTF-8 reason',
        wsFrame({ opcode: 0x8, payload: closePayload(1000, Buffer.from([0xc3, 0x28])) }),
        1007,
      ],
      [
        'a text frame of invalid UTF-8',
        wsFrame({ opcode: 0x1, payload: Buffer.from([0x7b, 0xff, 0x7d]) }),
        1007,
      ],
      [
        'a 64-bit length with the top bit set',
        wsFrame({ opcode: 0x2, length: 0x8000_0000_0000_0000n }).subarray(0, 10),
        1009,
      ],
      [
        'a header announcing more than MAX_PAYLOAD_BYTES',
        wsFrame({ opcode: 0x1, length: 1n << 32n }).subarray(0, 14),
        1009,
      ],
    ];

    function tcpOf(client: TestClient): net.Socket {
      return (client.socket as unknown as { _socket: net.Socket })._socket;
    }

    it.each(closingCases)(
      'closes a client that sends %s with the protocol close code, and keeps serving',
      async (_name, bytes, code) => {
        const bob = await joined('bob', 'lobby');
        const mallory = await joined('mallory', 'lobby');
        await bob.next('user_joined');

        tcpOf(mallory).write(bytes);

        expect((await mallory.closed).code).toBe(code);
        expect(await bob.next('user_left')).toMatchObject({ userId: 'mallory', roomId: 'lobby' });
        await expectCounts(server, { connections: 1, hubMembers: 1 });
        await expectServes(server, 'lobby', [bob]);
      },
    );

    const endingCases: [string, Buffer, (socket: net.Socket) => void][] = [
      ['a truncated header, then a FIN', Buffer.from([0x81, 0xfe, 0x01]), (s) => s.end()],
      [
        'a truncated header, then a reset',
        Buffer.from([0x81, 0xff, 0x00, 0x00]),
        (s) => s.resetAndDestroy(),
      ],
      [
        'half a frame, then a FIN',
        wsFrame({ opcode: 0x1, payload: join }).subarray(0, 20),
        (s) => s.end(),
      ],
      [
        'half a close frame, then a reset',
        wsFrame({ opcode: 0x8, payload: closePayload(1000) }).subarray(0, 7),
        (s) => s.resetAndDestroy(),
      ],
    ];

    it.each(endingCases)(
      'drops a client that sends %s, and keeps serving',
      async (_name, bytes, end) => {
        const bob = await joined('bob', 'lobby');
        const mallory = await joined('mallory', 'lobby');
        await bob.next('user_joined');

        const socket = tcpOf(mallory);
        socket.write(bytes, () => end(socket));

        expect((await mallory.closed).code).toBe(1006);
        expect(await bob.next('user_left')).toMatchObject({ userId: 'mallory', roomId: 'lobby' });
        await expectCounts(server, { connections: 1, hubMembers: 1 });
        await expectServes(server, 'lobby', [bob]);
      },
    );
  });

  describe('a TCP connection that fails during the handshake', () => {
    const upgradeRequest = (port: number, key = randomBytes(16).toString('base64')) =>
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

    /** Opens a raw TCP connection to the server; resolves once connected. */
    function rawConnect(port: number): Promise<net.Socket> {
      return new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
    }

    /** Resolves with what the server wrote once it contains `marker`, or ended the connection. */
    function received(socket: net.Socket, marker: string): Promise<string> {
      return new Promise((resolve) => {
        let seen = '';
        socket.on('data', (chunk: Buffer) => {
          seen += chunk.toString('latin1');
          if (seen.includes(marker)) resolve(seen);
        });
        socket.once('close', () => resolve(seen));
      });
    }

    function closedSocket(socket: net.Socket): Promise<void> {
      return new Promise((resolve) => {
        if (socket.destroyed) resolve();
        else socket.once('close', () => resolve());
      });
    }

    const scenarios: [string, (port: number) => Promise<void>][] = [
      [
        'a partial upgrade request, then a reset',
        async (port) => {
          const socket = await rawConnect(port);
          socket.on('error', () => undefined);
          socket.write(upgradeRequest(port).slice(0, 40), () => socket.resetAndDestroy());
          await closedSocket(socket);
        },
      ],
      [
        'a partial upgrade request, then a FIN',
        async (port) => {
          const socket = await rawConnect(port);
          socket.on('error', () => undefined);
          socket.end(upgradeRequest(port).slice(0, 60));
          socket.resume();
          await closedSocket(socket);
        },
      ],
      [
        'a complete upgrade request, reset at once',
        async (port) => {
          const socket = await rawConnect(port);
          socket.on('error', () => undefined);
          socket.write(upgradeRequest(port), () => socket.resetAndDestroy());
          await closedSocket(socket);
        },
      ],
      [
        'a complete upgrade request, reset after the 101',
        async (port) => {
          const socket = await rawConnect(port);
          socket.on('error', () => undefined);
          const response = received(socket, '\r\n\r\n');
          socket.write(upgradeRequest(port));
          expect(await response).toMatch(/^HTTP\/1\.1 101 /);
          socket.resetAndDestroy();
          await closedSocket(socket);
        },
      ],
      [
        'an upgrade request with a malformed key (refused with 400)',
        async (port) => {
          const socket = await rawConnect(port);
          socket.on('error', () => undefined);
          const response = received(socket, '\r\n\r\n');
          socket.write(upgradeRequest(port, 'not-a-key'));
          expect(await response).toMatch(/^HTTP\/1\.1 400 /);
          socket.destroy();
          await closedSocket(socket);
        },
      ],
    ];

    it.each(scenarios)(
      'survives %s, 20 at a time, with no slot or connection left over',
      async (_name, scenario) => {
        await Promise.all(Array.from({ length: 20 }, () => scenario(server.port)));

        await expectCounts(server, { connections: 0, handshakesOpen: 0, handshakeIps: 0 });
        expect((await fetch(`${server.httpUrl}/health`)).status).toBe(200);
        await expectServes(server, 'lobby');
      },
    );
  });
});
