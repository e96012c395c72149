import { InMemoryUserConnections } from '../auth/in-memory-user-connections';
import { AnswerPool } from '../common/answer-pool';
import { RoomPolicy } from '../auth/room-policy';
import { ChatError } from '../protocol/chat-error';
import { ErrorCode } from '../protocol/error-code';
import { configWith } from '../config/load-config';
import type { Session } from '../transport/session';
import { RecordingSocket, recordedSession } from '../../test/support/recording-socket';
import { InMemoryRoomBroker } from './in-memory-room-broker';
import { InMemoryRoomStore } from './in-memory-room-store';
import { RoomHub } from './room-hub';
import { RoomsService, exceedsCodePoints, newestWithin } from './rooms.service';

function connect(): { session: Session; socket: RecordingSocket } {
  return recordedSession();
}

const types = (socket: RecordingSocket): unknown[] => socket.sent.map((f) => f.type);

async function rejection(promise: Promise<unknown>): Promise<ChatError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ChatError) return error;
    throw error;
  }
  throw new Error('expected a ChatError');
}

const POSITIONED = { offset: expect.any(Number) as number, epoch: expect.any(String) as string };

describe('RoomsService', () => {
  let store: InMemoryRoomStore;
  let hub: RoomHub;
  let rooms: RoomsService;

  beforeEach(() => {
    const broker = new InMemoryRoomBroker();
    const config = configWith({ MAX_MESSAGE_LENGTH: 10 });
    store = new InMemoryRoomStore(broker);
    hub = new RoomHub(broker, store, config);
    rooms = new RoomsService(
      store,
      broker,
      hub,
      config,
      new RoomPolicy(config),
      new InMemoryUserConnections(),
    );
  });

  it('joins the user’s own room when no roomId is given', async () => {
    const a = connect();
    await rooms.join(a.session, 'alice');
    expect(a.socket.sent).toEqual([
      {
        type: 'joined',
        roomId: 'alice',
        userId: 'alice',
        message: 'Joined room: alice',
        ...POSITIONED,
      },
    ]);
    expect((await store.members('alice', 10)).users).toHaveLength(1);
  });

  it('tells the other members, not the joiner, that a user joined', async () => {
    const a = connect();
    const b = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    await rooms.join(b.session, 'bob', 'lobby');
    expect(types(b.socket)).toEqual(['joined']);
    expect(a.socket.sent[1]).toEqual({
      type: 'user_joined',
      userId: 'bob',
      roomId: 'lobby',
      message: 'bob joined the room',
      timestamp: expect.any(String),
      ...POSITIONED,
    });
  });

  it('broadcasts a messageId once: a resend is echoed to its sender alone, at the original position', async () => {
    const a = connect();
    const b = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    await rooms.join(b.session, 'bob', 'lobby');
    await rooms.sendMessage(a.session, 'alice', 'hi', 'm-1');
    const original = a.socket.sent.at(-1);
    expect(original).toMatchObject({ content: 'hi', messageId: 'm-1', ...POSITIONED });
    expect(b.socket.sent.at(-1)).toEqual(original);
    const seenByBob = b.socket.sent.length;
    await rooms.sendMessage(a.session, 'alice', 'hi again', 'm-1');
    // This broker keeps no history: the echo is the resend at the original's position (with
    // history it is the original frame itself, see test/idempotency.e2e-spec.ts).
    expect(a.socket.sent.at(-1)).toEqual({
      ...original,
      content: 'hi again',
      timestamp: expect.any(String),
    });
    expect(b.socket.sent.length).toBe(seenByBob);
    // The same id from another user is another message.
    await rooms.sendMessage(b.session, 'bob', 'mine', 'm-1');
    expect(a.socket.sent.at(-1)).toMatchObject({ userId: 'bob', content: 'mine' });
  });

  it('delivers a chat message to every member, the sender included', async () => {
    const a = connect();
    const b = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    await rooms.join(b.session, 'bob', 'lobby');
    await rooms.sendMessage(b.session, 'bob', 'hello');
    for (const socket of [a.socket, b.socket]) {
      const frame = socket.sent.at(-1);
      expect(frame).toEqual({
        type: 'chat_message',
        userId: 'bob',
        roomId: 'lobby',
        content: 'hello',
        ...POSITIONED,
        timestamp: expect.any(String),
      });
      expect(new Date(frame?.timestamp as string).toISOString()).toBe(frame?.timestamp);
    }
  });

  it('refuses a chat message from a connection that has not joined', async () => {
    const a = connect();
    const error = await rejection(rooms.sendMessage(a.session, 'alice', 'hi'));
    expect(error.code).toBe(ErrorCode.NotJoined);
  });

  it('refuses messages naming another user than the one the connection joined as', async () => {
    const a = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    for (const attempt of [
      rooms.sendMessage(a.session, 'mallory', 'hi'),
      rooms.join(a.session, 'mallory', 'lobby'),
      rooms.switchRoom(a.session, 'mallory', 'other'),
    ]) {
      expect((await rejection(attempt)).code).toBe(ErrorCode.UserMismatch);
    }
    expect(a.session.roomId).toBe('lobby');
  });

  it('counts content length in characters, not UTF-16 units', async () => {
    const a = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    await rooms.sendMessage(a.session, 'alice', '😀'.repeat(10));
    const error = await rejection(rooms.sendMessage(a.session, 'alice', 'x'.repeat(11)));
    expect(error.code).toBe(ErrorCode.InvalidMessage);
    expect(error.message).toContain('content');
  });

  it('switching rooms tells the old room the user left and deletes it when empty', async () => {
    const a = connect();
    const b = connect();
    await rooms.join(a.session, 'alice', 'one');
    await rooms.join(b.session, 'bob', 'one');
    await rooms.switchRoom(b.session, 'bob', 'two');
    expect(a.socket.sent.at(-1)).toEqual({
      type: 'user_left',
      userId: 'bob',
      roomId: 'one',
      message: 'bob left the room',
      timestamp: expect.any(String),
      ...POSITIONED,
    });
    expect(b.socket.sent.at(-1)).toMatchObject({ type: 'joined', roomId: 'two' });
    await rooms.switchRoom(a.session, 'alice', 'two');
    expect(await store.members('one', 10)).toEqual({ users: [], count: 0 });
    expect(await store.roomCount()).toBe(1);
    expect(hub.roomCount).toBe(1);
  });

  it('joining the current room again only repeats joined', async () => {
    const a = connect();
    const b = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    await rooms.join(b.session, 'bob', 'lobby');
    await rooms.join(b.session, 'bob', 'lobby');
    expect(types(b.socket)).toEqual(['joined', 'joined']);
    expect(types(a.socket)).toEqual(['joined', 'user_joined']);
  });

  it('announces a user once however many connections they have in the room', async () => {
    const watcher = connect();
    const tab1 = connect();
    const tab2 = connect();
    await rooms.join(watcher.session, 'watcher', 'lobby');
    await rooms.join(tab1.session, 'alice', 'lobby');
    await rooms.join(tab2.session, 'alice', 'lobby');
    await rooms.disconnect(tab1.session);
    expect(types(watcher.socket)).toEqual(['joined', 'user_joined']);
    await rooms.sendMessage(tab2.session, 'alice', 'still here');
    await rooms.disconnect(tab2.session);
    expect(types(watcher.socket)).toEqual(['joined', 'user_joined', 'chat_message', 'user_left']);
  });

  it('leaves the room on disconnect, and a second disconnect changes nothing', async () => {
    const a = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    await rooms.disconnect(a.session);
    await rooms.disconnect(a.session);
    expect(await store.roomCount()).toBe(0);
    expect(hub.roomCount).toBe(0);
  });

  it('applies one session’s operations in the order its queue runs them', async () => {
    const a = connect();
    const done = new Promise<void>((resolve) => {
      a.session.enqueue(() => rooms.join(a.session, 'alice', 'one'));
      a.session.enqueue(() => rooms.sendMessage(a.session, 'alice', 'first'));
      a.session.enqueue(() => rooms.switchRoom(a.session, 'alice', 'two'));
      a.session.enqueue(() => rooms.sendMessage(a.session, 'alice', 'second'));
      a.session.enqueue(resolve);
    });
    await done;
    expect(a.socket.sent.map((f) => [f.type, f.roomId])).toEqual([
      ['joined', 'one'],
      ['chat_message', 'one'],
      ['joined', 'two'],
      ['chat_message', 'two'],
    ]);
  });
});

describe('exceedsCodePoints', () => {
  it.each([
    ['', 1, false],
    ['abc', 3, false],
    ['abcd', 3, true],
    ['😀😀😀', 3, false],
    ['😀😀😀😀', 3, true],
  ])('%j with max %i → %s', (text, max, expected) => {
    expect(exceedsCodePoints(text, max)).toBe(expected);
  });
});

describe('RoomsService history answers for backends', () => {
  const FRAME = 100;
  let rooms: RoomsService;
  let frameBytes: number;

  beforeEach(async () => {
    const broker = new InMemoryRoomBroker({ size: 50 });
    const config = configWith({ MAX_MESSAGE_LENGTH: FRAME, HISTORY_MAX_ANSWER_BYTES: 4_096 });
    const store = new InMemoryRoomStore(broker);
    rooms = new RoomsService(
      store,
      broker,
      new RoomHub(broker, store, config),
      config,
      new RoomPolicy(config),
      new InMemoryUserConnections(),
    );
    const a = connect();
    await rooms.join(a.session, 'alice', 'lobby');
    for (let i = 0; i < 20; i++) {
      await rooms.sendMessage(a.session, 'alice', `${i}`.padStart(FRAME, 'x'));
    }
    const read = await rooms.historyOf('lobby', { limit: 1 });
    frameBytes = Buffer.byteLength(read.messages[0]);
  });

  it('cuts the answers of one request to what its budget has left, then refuses unavailable', async () => {
    const pool = new AnswerPool(1_000_000, 5 * frameBytes + 10);
    const answers = pool.lease();
    const first = await rooms.historyOf('lobby', { limit: 3 }, { answers });
    expect(first).toMatchObject({ truncated: false });
    expect(first.messages).toHaveLength(3);
    const second = await rooms.historyOf('lobby', { limit: 10 }, { answers });
    expect(second.messages).toHaveLength(2);
    expect(second.truncated).toBe(true);
    const spent = await rejection(rooms.historyOf('lobby', { limit: 10 }, { answers }));
    expect(spent.code).toBe(ErrorCode.Unavailable);
    expect(pool.held).toBe(5 * frameBytes);
    answers.release();
    expect(pool.held).toBe(0);
  });

  it('refuses unavailable, holding nothing, when the pool of all requests has no room', async () => {
    const pool = new AnswerPool(8 * frameBytes, 5 * frameBytes);
    const holder = pool.lease();
    expect(
      (await rooms.historyOf('lobby', { limit: 5 }, { answers: holder })).messages,
    ).toHaveLength(5);
    const refused = await rejection(
      rooms.historyOf('lobby', { limit: 5 }, { answers: pool.lease() }),
    );
    expect(refused.code).toBe(ErrorCode.Unavailable);
    expect(pool.held).toBe(5 * frameBytes);
    holder.release();
    expect(
      (await rooms.historyOf('lobby', { limit: 5 }, { answers: pool.lease() })).messages,
    ).toHaveLength(5);
  });
});

describe('newestWithin', () => {
  it('keeps the newest frames whose bytes fit, oldest first, and says when it left some out', () => {
    const frames = ['aaaa', 'bbbb', 'cccc', 'dd'];
    expect(newestWithin(frames, 100)).toEqual({ frames, bytes: 14, truncated: false });
    expect(newestWithin(frames, 9)).toEqual({ frames: ['cccc', 'dd'], bytes: 6, truncated: true });
  });

  it('counts UTF-8 bytes, and keeps the newest frame whatever its size', () => {
    expect(newestWithin(['é', 'éé'], 4)).toEqual({ frames: ['éé'], bytes: 4, truncated: true });
    expect(newestWithin(['a', 'huge'], 2)).toEqual({ frames: ['huge'], bytes: 4, truncated: true });
    expect(newestWithin([], 2)).toEqual({ frames: [], bytes: 0, truncated: false });
  });
});

describe('RoomsService per-user counts', () => {
  async function joinedCount(maxPerUser: number): Promise<number> {
    const broker = new InMemoryRoomBroker();
    const config = configWith({ MAX_CONNECTIONS_PER_USER: maxPerUser });
    const store = new InMemoryRoomStore(broker);
    const users = new InMemoryUserConnections();
    const rooms = new RoomsService(
      store,
      broker,
      new RoomHub(broker, store, config),
      config,
      new RoomPolicy(config),
      users,
    );
    await rooms.join(connect().session, 'alice', 'lobby');
    return users.count('alice');
  }

  it('counts a connection without a token at its join, for pushes to know whom they reach', async () => {
    expect(await joinedCount(100)).toBe(1);
  });

  it('counts nothing with MAX_CONNECTIONS_PER_USER=0 (no cap)', async () => {
    expect(await joinedCount(0)).toBe(0);
  });
});
