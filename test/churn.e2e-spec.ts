import { EventEmitter } from 'node:events';
import { runInThisContext } from 'node:vm';
import WebSocket, { RawData } from 'ws';
import { HandshakeGuard } from '../src/transport/handshake-guard';
import { SessionRegistry } from '../src/transport/session-registry';
import { RoomHub } from '../src/rooms/room-hub';
import { RoomStore } from '../src/rooms/room-store';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { TestClient } from './support/test-client';
import { eventually } from './support/eventually';

/*
 * Connection churn (issue 3, "Tests"): a few thousand connect / join / abrupt-end cycles, 50 at a
 * time, in every way a client can vanish (no close frame, a close frame, in the middle of a join,
 * before joining, during the handshake). Afterwards the server holds no connection, membership,
 * room, join timer or handshake slot, no MaxListenersExceededWarning was emitted, and the
 * process' sockets and timers are back where they were.
 */

const CYCLES = 3_000;
const CONCURRENCY = 50;
const CYCLE_TIMEOUT_MS = 5_000;
const SETTLE_TIMEOUT_MS = 10_000;
const USERS = 37;
const ROOMS = 11;

/** How a cycle's client goes away. */
const ENDINGS = [
  'terminate after join',
  'close after join',
  'terminate after chat',
  'terminate mid-join',
  'close mid-join',
  'terminate before join',
  'close before join',
  'terminate during auto-join',
  'abort during handshake',
] as const;
type Ending = (typeof ENDINGS)[number];

/** Opens a raw `ws` client; rejects if the upgrade is refused (a leaked handshake slot shows here). */
function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (request, response) => {
      request.destroy();
      reject(new Error(`upgrade refused with HTTP ${response.statusCode}`));
    });
  });
}

function closed(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

/** Resolves with the first frame of `type`; rejects if the socket closes first. */
function frameOf(socket: WebSocket, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: RawData) => {
      const frame = JSON.parse(textOf(data)) as Record<string, unknown>;
      if (frame.type !== type) return;
      socket.off('message', onMessage);
      socket.off('close', onClose);
      resolve(frame);
    };
    const onClose = (code: number) => {
      socket.off('message', onMessage);
      reject(new Error(`closed with ${code} while waiting for ${type}`));
    };
    socket.on('message', onMessage);
    socket.once('close', onClose);
  });
}

async function cycle(url: string, ending: Ending, userId: string, roomId: string): Promise<void> {
  const join = JSON.stringify({ type: 'join', userId, roomId });
  if (ending === 'abort during handshake') {
    // The server has accepted the upgrade; the client drops it before seeing `open`.
    const socket = new WebSocket(url);
    socket.on('error', () => undefined);
    socket.once('upgrade', () => socket.terminate());
    return closed(socket);
  }
  if (ending === 'terminate during auto-join') {
    const socket = await open(`${url}/?userId=${userId}`);
    socket.terminate();
    return closed(socket);
  }
  const socket = await open(url);
  socket.on('error', () => undefined);
  switch (ending) {
    case 'terminate mid-join':
      socket.send(join);
      socket.terminate();
      break;
    case 'close mid-join':
      socket.send(join);
      socket.close();
      break;
    case 'terminate before join':
      socket.terminate();
      break;
    case 'close before join':
      socket.close();
      break;
    default: {
      const joined = frameOf(socket, 'joined');
      socket.send(join);
      await joined;
      if (ending === 'terminate after chat') {
        socket.send(JSON.stringify({ type: 'chat_message', userId, content: 'bye' }));
        socket.terminate();
      } else if (ending === 'close after join') socket.close();
      else socket.terminate();
    }
  }
  return closed(socket);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `task(0..total-1)` with at most `concurrency` in flight; collects failures. */
async function pool(
  total: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      await task(index).catch((error: unknown) => failures.push(`#${index}: ${String(error)}`));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

function countByName(resources: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of resources) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

/** Names itself in the warning this spec provokes on purpose, so the log says where it came from. */
class CanaryEmitter extends EventEmitter {}

/**
 * The process Node emits warnings on. Jest gives each test file its own copy of `process`, whose
 * 'warning' listeners never see the real warnings (jestjs/jest#8246); `vm.runInThisContext`
 * evaluates in the main context, where `process` is the real one.
 */
const realProcess = runInThisContext('process') as NodeJS.Process;

describe('connection churn', () => {
  let server: RunningApp;
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);

  beforeAll(async () => {
    server = await startApp(PROTOCOL_TEST_LIMITS);
    realProcess.on('warning', onWarning);
  });

  afterAll(async () => {
    realProcess.off('warning', onWarning);
    await server.close();
  });

  it('hears a MaxListenersExceededWarning provoked on purpose (the churn check relies on it)', async () => {
    const emitter = new CanaryEmitter();
    emitter.setMaxListeners(1);
    emitter.on('x', () => undefined);
    emitter.on('x', () => undefined);
    await eventually('a MaxListenersExceededWarning', () => warnings.length, {
      done: (count) => count > 0,
      timeoutMs: SETTLE_TIMEOUT_MS,
    });

    expect(warnings.map((w) => w.name)).toContain('MaxListenersExceededWarning');
    warnings.length = 0;
  }, 15_000);

  it(
    `leaves no connection, member, room, timer or handshake slot after ${CYCLES} abrupt ` +
      `connect / join / disconnect cycles, ${CONCURRENCY} at a time`,
    async () => {
      const registry = server.app.get(SessionRegistry);
      const hub = server.app.get(RoomHub);
      const store = server.app.get<RoomStore>(RoomStore);
      const guard = server.app.get(HandshakeGuard);
      const baseline = countByName(realProcess.getActiveResourcesInfo());

      const failures = await pool(CYCLES, CONCURRENCY, (i) =>
        withTimeout(
          cycle(server.wsUrl, ENDINGS[i % ENDINGS.length], `u${i % USERS}`, `r${i % ROOMS}`),
          CYCLE_TIMEOUT_MS,
          `cycle ${ENDINGS[i % ENDINGS.length]}`,
        ),
      );
      expect(failures).toEqual([]);

      const zero = {
        connections: 0,
        joinTimers: 0,
        hubRooms: 0,
        hubMembers: 0,
        storeRooms: 0,
        handshakesOpen: 0,
        handshakeIps: 0,
      };
      const counts = await eventually(
        'every count back to zero',
        async () => ({
          connections: registry.size,
          joinTimers: registry.awaitingJoinCount,
          hubRooms: hub.roomCount,
          hubMembers: hub.memberCount,
          storeRooms: await store.roomCount(),
          handshakesOpen: guard.openCount,
          handshakeIps: guard.ipCount,
        }),
        {
          done: (value) => JSON.stringify(value) === JSON.stringify(zero),
          timeoutMs: SETTLE_TIMEOUT_MS,
        },
      );
      expect(counts).toEqual(zero);

      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);

      // Sockets (client and server side share this process) and timers are back to the baseline.
      const resources = await eventually(
        'as many sockets as before the churn',
        () => countByName(realProcess.getActiveResourcesInfo()),
        {
          done: (now) => (now.TCPSocketWrap ?? 0) <= (baseline.TCPSocketWrap ?? 0),
          timeoutMs: SETTLE_TIMEOUT_MS,
        },
      );
      expect(resources.TCPSocketWrap ?? 0).toBeLessThanOrEqual(baseline.TCPSocketWrap ?? 0);
      expect(resources.Timeout ?? 0).toBeLessThanOrEqual((baseline.Timeout ?? 0) + 2);
      const total = (counts: Record<string, number>) =>
        Object.values(counts).reduce((sum, n) => sum + n, 0);
      expect(total(resources)).toBeLessThanOrEqual(total(baseline) + 5);

      // And the server still serves.
      const alice = await TestClient.connect(server.wsUrl);
      try {
        await alice.request({ type: 'join', userId: 'alice', roomId: 'r1' }, 'joined');
        expect(
          await alice.request({ type: 'chat_message', userId: 'alice', content: 'after churn' }),
        ).toMatchObject({ type: 'chat_message', roomId: 'r1', content: 'after churn' });
      } finally {
        await alice.close();
      }
    },
    120_000,
  );
});
