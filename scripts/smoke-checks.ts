import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { ClientMessageType, ServerMessageType } from '../src/protocol/chat.protocol';
import { ErrorCode } from '../src/protocol/error-code';
import { FrameSocket } from './lib/frame-socket';
import { Frame, healthUrlOf, isRecord } from './lib/frames';

/**
 * The smoke test of a running chat server: the counterpart of the seed's `chat_test.py`. It speaks
 * the protocol as any client would, with ids unique to the run so it can be repeated against a
 * production server, and checks each rule against the text (not the server's own code).
 */

export interface SmokeOptions {
  /** Longest wait for one step: a connection, a frame, an HTTP answer. */
  stepTimeoutMs?: number;
  /** Bound on the whole run, so that it never hangs. */
  overallTimeoutMs?: number;
  /**
   * A token for a server with AUTH_MODE=jwt: the run then checks authentication (by header and by
   * first frame, `auth`, userId from the token, `user_mismatch`, `refresh`) as the token's user
   * instead of the checks that need several users.
   */
  token?: string;
}

export interface SmokeResult {
  passed: number;
  failed: number;
  /** Checks not run because an earlier check they depend on failed. */
  skipped: number;
}

export type SmokeLog = (line: string) => void;

interface Check {
  name: string;
  run: () => Promise<void>;
}

/** Checks that build on each other: after the first failure, the rest are skipped. */
type Scenario = Check[];

const DEFAULT_STEP_TIMEOUT_MS = 5000;
const DEFAULT_OVERALL_TIMEOUT_MS = 60_000;
// How long to wait for frames that must not arrive, once the frames that must arrive are in.
const QUIET_PERIOD_MS = 300;
/** The reason the checks give when they close their connections. */
const CLOSE_REASON = 'smoke test done';

const T = ServerMessageType;

/**
 * Runs every check against `url` (ws:// or wss://; throws a TypeError for anything else), logging
 * one line per check and a summary. Never rejects because of the server, and never takes much
 * longer than `overallTimeoutMs`: every connection it opened is closed when it resolves.
 */
export async function runSmoke(
  url: string,
  log: SmokeLog = console.log,
  options: SmokeOptions = {},
): Promise<SmokeResult> {
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const overallTimeoutMs = options.overallTimeoutMs ?? DEFAULT_OVERALL_TIMEOUT_MS;
  const ctx = new SmokeContext(url, stepTimeoutMs, options.token);
  const result: SmokeResult = { passed: 0, failed: 0, skipped: 0 };
  const started = Date.now();
  log(`Smoke test of ${url} (run ${ctx.run})`);

  const runAll = async (): Promise<void> => {
    for (const scenario of scenarios(ctx)) {
      let broken = false;
      for (const check of scenario) {
        if (ctx.stopped) return;
        if (broken) {
          result.skipped++;
          log(`- ${check.name} (skipped)`);
          continue;
        }
        const checkStarted = Date.now();
        try {
          // A check waits step by step; this bounds one whose steps add up or never settle.
          await withTimeout(check.run(), 3 * stepTimeoutMs, 'the check');
          if (ctx.stopped) return;
          result.passed++;
          log(`✓ ${check.name} (${Date.now() - checkStarted} ms)`);
        } catch (error) {
          if (ctx.stopped) return;
          result.failed++;
          broken = true;
          log(`✗ ${check.name}\n    ${describeError(error)}`);
        }
      }
    }
  };

  const finished = await withTimeout(runAll(), overallTimeoutMs, 'the smoke test').then(
    () => true,
    () => false,
  );
  ctx.stopped = true;
  const final = { ...result };
  if (!finished) {
    final.failed++;
    log(`✗ the smoke test finishes within ${overallTimeoutMs} ms`);
  }
  await ctx.closeAll();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(`${final.passed} passed, ${final.failed} failed, ${final.skipped} skipped in ${seconds} s`);
  return final;
}

/** What the checks share: the server's addresses, this run's unique ids, the sockets to close. */
class SmokeContext {
  readonly run = randomBytes(4).toString('hex');
  readonly healthUrl: string;
  /** Set once the run is over (or timed out): late results are ignored, no socket is opened. */
  stopped = false;
  private readonly sockets: FrameSocket[] = [];

  constructor(
    readonly wsUrl: string,
    readonly timeoutMs: number,
    readonly token?: string,
  ) {
    this.healthUrl = healthUrlOf(wsUrl);
  }

  /** A user or room id unique to this run. */
  id(name: string): string {
    return `smoke_${this.run}_${name}`;
  }

  /** A connection; with a token, it is sent as `Authorization: Bearer` unless `anonymous`. */
  async connect(
    query: Record<string, string> = {},
    { path = '', anonymous = false } = {},
  ): Promise<FrameSocket> {
    const url = new URL(this.wsUrl);
    if (path !== '') url.pathname = path;
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    if (this.stopped) throw new Error('the smoke test is over');
    const headers: Record<string, string> =
      this.token !== undefined && !anonymous ? { authorization: `Bearer ${this.token}` } : {};
    // Registered before it opens, so that closeAll also ends a connection that is still opening.
    const socket = FrameSocket.open(url.toString(), { timeoutMs: this.timeoutMs, headers });
    this.sockets.push(socket);
    await socket.ready;
    return socket;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.sockets.map((socket) => socket.close(1000, CLOSE_REASON)));
  }

  quietPeriod(): Promise<void> {
    return delay(Math.min(QUIET_PERIOD_MS, this.timeoutMs));
  }
}

function scenarios(ctx: SmokeContext): Scenario[] {
  if (ctx.token !== undefined) {
    return [[healthCheck(ctx, '/')], [healthCheck(ctx, '/health')], tokenChecks(ctx, ctx.token)];
  }
  return [
    [healthCheck(ctx, '/')],
    [healthCheck(ctx, '/health')],
    roomChecks(ctx),
    ...errorChecks(ctx),
    [autoJoinCheck(ctx)],
  ];
}

function healthCheck(ctx: SmokeContext, path: string): Check {
  const url = new URL(path, ctx.healthUrl).toString();
  return {
    name: `health: GET ${path} answers 200 with status "ok" and a chat indicator`,
    run: async () => {
      const response = await fetch(url, { signal: AbortSignal.timeout(ctx.timeoutMs) });
      const text = await response.text();
      const excerpt = text.slice(0, 300);
      if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${excerpt}`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`the body is not JSON: ${excerpt}`);
      }
      const chat = isRecord(body) && isRecord(body.info) ? body.info.chat : undefined;
      const healthy =
        isRecord(body) &&
        body.status === 'ok' &&
        isRecord(chat) &&
        chat.status === 'up' &&
        isCount(chat.connections) &&
        isCount(chat.rooms);
      if (!healthy) throw new Error(`unexpected body: ${excerpt}`);
    },
  };
}

/** Two connections, A and B: join, chat, switch and leave. */
function roomChecks(ctx: SmokeContext): Scenario {
  const alice = ctx.id('a');
  const bob = ctx.id('b');
  const lobby = ctx.id('room1');
  const other = ctx.id('room2');
  let a: FrameSocket;
  let b: FrameSocket;
  return [
    {
      name: 'join: A joins a room and gets "joined"',
      run: async () => {
        a = await ctx.connect();
        expectFrame(await a.request(join(alice, lobby), T.Joined), joinedFrame(alice, lobby));
      },
    },
    {
      name: 'join: B joins the same room; A gets "user_joined" for B',
      run: async () => {
        b = await ctx.connect();
        expectFrame(await b.request(join(bob, lobby), T.Joined), joinedFrame(bob, lobby));
        expectFrame(await nextEvent(a, T.UserJoined, bob), userEvent(T.UserJoined, bob, lobby));
      },
    },
    {
      name: 'join: joining the current room again only repeats "joined"',
      run: async () => {
        expectFrame(await b.request(join(bob, lobby), T.Joined), joinedFrame(bob, lobby));
        // B's next message reaches A after anything the repeated join made the server send.
        const marker = `marker ${ctx.run}`;
        b.send(chat(bob, marker));
        await Promise.all([nextChat(a, bob, marker), nextChat(b, bob, marker)]);
        expectNone(a, 'a second "user_joined" for B', isEvent(T.UserJoined, bob));
      },
    },
    {
      name: 'chat: a message reaches every member, sender included, with a server timestamp',
      run: async () => {
        const content = `hello from A: ünïcödé ✓ 👋 <&> "${ctx.run}"`;
        a.send(chat(alice, content));
        const [toA, toB] = await Promise.all([
          nextChat(a, alice, content),
          nextChat(b, alice, content),
        ]);
        const expected = {
          type: T.ChatMessage,
          userId: alice,
          roomId: lobby,
          content,
          timestamp: isIsoTimestamp,
          ...POSITION,
        };
        expectFrame(toA, expected);
        expectFrame(toB, expected);
        if (toA.timestamp !== toB.timestamp) {
          throw new Error(`A and B got different timestamps: ${JSON.stringify([toA, toB])}`);
        }
      },
    },
    {
      name: "chat: one sender's messages arrive in the order sent",
      run: async () => {
        const sent = Array.from({ length: 20 }, (_, i) => `order ${i} ${ctx.run}`);
        for (const content of sent) a.send(chat(alice, content));
        const received: unknown[] = [];
        for (let i = 0; i < sent.length; i++) {
          const frame = await b.next({
            what: `chat_message ${i} of ${sent.length}`,
            matches: (f) => sent.some((content) => isChat(alice, content)(f)),
          });
          received.push(frame.content);
        }
        if (JSON.stringify(received) !== JSON.stringify(sent)) {
          throw new Error(`B got them in this order: ${JSON.stringify(received)}`);
        }
      },
    },
    {
      name: 'switch: B switches rooms; A gets "user_left" for B',
      run: async () => {
        expectFrame(await b.request(switchRoom(bob, other), T.Joined), joinedFrame(bob, other));
        expectFrame(await nextEvent(a, T.UserLeft, bob), userEvent(T.UserLeft, bob, lobby));
      },
    },
    {
      name: "switch: rooms are isolated; neither sees the other room's messages",
      run: async () => {
        const inLobby = `for ${lobby} only`;
        const inOther = `for ${other} only`;
        a.send(chat(alice, inLobby));
        b.send(chat(bob, inOther));
        await Promise.all([nextChat(a, alice, inLobby), nextChat(b, bob, inOther)]);
        await ctx.quietPeriod();
        expectNone(b, `A's message to ${lobby}`, isChat(alice, inLobby));
        expectNone(a, `B's message to ${other}`, isChat(bob, inOther));
      },
    },
    {
      name: 'switch: B switches back; A gets "user_joined" for B',
      run: async () => {
        expectFrame(await b.request(switchRoom(bob, lobby), T.Joined), joinedFrame(bob, lobby));
        expectFrame(await nextEvent(a, T.UserJoined, bob), userEvent(T.UserJoined, bob, lobby));
      },
    },
    {
      name: 'leave: B closes its connection; A gets "user_left" for B',
      run: async () => {
        await b.close(1000, CLOSE_REASON);
        expectFrame(await nextEvent(a, T.UserLeft, bob), userEvent(T.UserLeft, bob, lobby));
      },
    },
  ];
}

/**
 * Every error code, each on a fresh connection so that one failure does not hide the others; and
 * after each error the connection is still open and usable.
 */
function errorChecks(ctx: SmokeContext): Scenario[] {
  const check = (
    code: ErrorCode,
    what: string,
    badMessage: (userId: string) => object | string | Buffer,
    mentions?: string,
  ): Check => ({
    name: `error ${code}: ${what}; the connection stays usable`,
    run: async () => {
      const userId = ctx.id(code);
      const socket = await ctx.connect();
      expectError(await socket.request(badMessage(userId), T.Error), code, mentions);
      expectFrame(await socket.request(join(userId), T.Joined), joinedFrame(userId, userId));
      await socket.close(1000, CLOSE_REASON);
    },
  });
  return [
    [check(ErrorCode.NotJoined, 'chat_message on a fresh connection', (id) => chat(id, 'early'))],
    [
      check(
        ErrorCode.InvalidJson,
        'a text frame that is not JSON',
        () => `{"type": "${ClientMessageType.Join}", `,
      ),
    ],
    [
      check(ErrorCode.UnknownType, 'a message type the server does not know', (userId) => ({
        type: 'smoke_no_such_type',
        userId,
      })),
    ],
    [
      check(
        ErrorCode.InvalidMessage,
        'a bad field, named in the message',
        () => join('not a valid id!'),
        'userId',
      ),
    ],
    [
      check(ErrorCode.Unsupported, 'a binary frame', (userId) =>
        Buffer.from(JSON.stringify(join(userId))),
      ),
    ],
    [
      {
        name: 'error user_mismatch: a message naming another user; the connection stays usable',
        run: async () => {
          const carol = ctx.id('c');
          const c = await ctx.connect();
          expectFrame(await c.request(join(carol), T.Joined), joinedFrame(carol, carol));
          const mismatch = chat(ctx.id('x'), 'not mine');
          expectError(await c.request(mismatch, T.Error), ErrorCode.UserMismatch);
          const content = `still here ${ctx.run}`;
          c.send(chat(carol, content));
          expectFrame(await nextChat(c, carol, content), {
            type: T.ChatMessage,
            userId: carol,
            roomId: carol,
            content,
            timestamp: isIsoTimestamp,
            ...POSITION,
          });
          await c.close(1000, CLOSE_REASON);
        },
      },
    ],
  ];
}

/** AUTH_MODE=jwt, as the token's user: the one user a single token can prove. */
function tokenChecks(ctx: SmokeContext, token: string): Scenario {
  let userId = '';
  return [
    {
      name: 'auth: /ws greets a connection with a token at the handshake with `auth`',
      run: async () => {
        const socket = await ctx.connect({}, { path: '/ws' });
        const frame = await socket.next(T.Auth);
        expectFrame(frame, {
          type: T.Auth,
          status: 'ok',
          userId: isNonEmptyString,
          expiresAt: isCount,
          server_version: isNonEmptyString,
        });
        userId = String(frame.userId);
        await socket.close(1000, CLOSE_REASON);
      },
    },
    {
      name: 'auth: the first frame `Bearer <jwt>` authenticates; userId comes from the token',
      run: async () => {
        const socket = await ctx.connect({}, { anonymous: true });
        socket.send(`Bearer ${token}`);
        expectFrame(await socket.next(T.Auth), {
          type: T.Auth,
          status: 'ok',
          userId,
          expiresAt: isCount,
          server_version: isNonEmptyString,
        });
        const room = userId;
        expectFrame(
          await socket.request({ type: ClientMessageType.Join }, T.Joined),
          joinedFrame(userId, room),
        );
        const content = `smoke ${ctx.run}`;
        socket.send({ type: ClientMessageType.ChatMessage, content });
        expectFrame(await nextChat(socket, userId, content), {
          type: T.ChatMessage,
          userId,
          roomId: room,
          content,
          timestamp: isIsoTimestamp,
          ...POSITION,
        });
        const spoof = chat(`${userId}_not`, 'not mine');
        expectError(await socket.request(spoof, T.Error), ErrorCode.UserMismatch);
        const refreshed = await socket.request({ type: ClientMessageType.Refresh, token });
        expectFrame(refreshed, { type: T.Refreshed, expiresAt: isCount });
        await socket.close(1000, CLOSE_REASON);
      },
    },
    {
      name: 'auth: a socket without a token whose first frame is a message is closed with 1008',
      run: async () => {
        const socket = await ctx.connect({}, { anonymous: true });
        socket.send(join(ctx.id('anon')));
        const closed = await withTimeout(socket.closed, ctx.timeoutMs, 'the close');
        if (closed.code !== 1008) throw new Error(`closed with ${closed.code}, expected 1008`);
      },
    },
  ];
}

function autoJoinCheck(ctx: SmokeContext): Check {
  return {
    name: "auto-join: connecting with ?userId=ID joins the user's own room",
    run: async () => {
      const dave = ctx.id('d');
      const d = await ctx.connect({ userId: dave });
      expectFrame(await d.next(T.Joined), joinedFrame(dave, dave));
    },
  };
}

// --- Messages, written from the protocol's text --------------------------------------------

function join(userId: string, roomId?: string): object {
  return { type: ClientMessageType.Join, userId, ...(roomId === undefined ? {} : { roomId }) };
}

function chat(userId: string, content: string): object {
  return { type: ClientMessageType.ChatMessage, userId, content };
}

function switchRoom(userId: string, roomId: string): object {
  return { type: ClientMessageType.SwitchRoom, userId, roomId };
}

type Matcher = (value: unknown) => boolean;
/** The exact fields of an expected frame: a literal value or a test for each. */
type Expected = Record<string, string | Matcher>;

/** Every frame broadcast to a room, and `joined`, carries the room's stream position. */
const POSITION: Expected = {
  offset: (value) => Number.isSafeInteger(value) && (value as number) >= 0,
  epoch: (value) => typeof value === 'string',
};

function joinedFrame(userId: string, roomId: string): Expected {
  return { type: T.Joined, roomId, userId, message: `Joined room: ${roomId}`, ...POSITION };
}

function userEvent(
  type: typeof T.UserJoined | typeof T.UserLeft,
  userId: string,
  roomId: string,
): Expected {
  const verb = type === T.UserJoined ? 'joined' : 'left';
  return {
    type,
    userId,
    roomId,
    message: `${userId} ${verb} the room`,
    timestamp: isIsoTimestamp,
    ...POSITION,
  };
}

const isChat =
  (userId: string, content: string) =>
  (frame: Frame): boolean =>
    frame.type === T.ChatMessage && frame.userId === userId && frame.content === content;

const isEvent =
  (type: string, userId: string) =>
  (frame: Frame): boolean =>
    frame.type === type && frame.userId === userId;

function nextChat(socket: FrameSocket, userId: string, content: string): Promise<Frame> {
  return socket.next({
    what: `chat_message ${JSON.stringify(content)} from ${userId}`,
    matches: isChat(userId, content),
  });
}

function nextEvent(socket: FrameSocket, type: string, userId: string): Promise<Frame> {
  return socket.next({ what: `"${type}" for ${userId}`, matches: isEvent(type, userId) });
}

// --- Assertions ----------------------------------------------------------------------------

/** The frame has exactly the expected fields, each equal to or passing its expectation. */
function expectFrame(frame: Frame, expected: Expected): void {
  const keys = Object.keys(frame).sort().join(', ');
  const wanted = Object.keys(expected).sort().join(', ');
  if (keys !== wanted) {
    throw new Error(`expected the fields ${wanted}; got ${JSON.stringify(frame)}`);
  }
  for (const [key, expectation] of Object.entries(expected)) {
    const ok =
      typeof expectation === 'string' ? frame[key] === expectation : expectation(frame[key]);
    if (!ok) throw new Error(`unexpected ${key} in ${JSON.stringify(frame)}`);
  }
}

function expectError(frame: Frame, code: ErrorCode, mentions?: string): void {
  expectFrame(frame, { type: T.Error, code, message: isNonEmptyString });
  if (mentions !== undefined && !String(frame.message).includes(mentions)) {
    throw new Error(`the error message does not name ${mentions}: ${JSON.stringify(frame)}`);
  }
}

function expectNone(socket: FrameSocket, what: string, matches: (frame: Frame) => boolean): void {
  const unexpected = socket.unread().filter(matches);
  if (unexpected.length > 0) throw new Error(`got ${what}: ${JSON.stringify(unexpected)}`);
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function isIsoTimestamp(value: unknown): boolean {
  return typeof value === 'string' && ISO_8601.test(value) && !Number.isNaN(Date.parse(value));
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

// --- Plumbing ------------------------------------------------------------------------------

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error's message, with its cause's (fetch reports "fetch failed" and hides the reason there). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
