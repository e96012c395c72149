import { configWith } from '../config/load-config';
import { InMemoryRoomBroker } from './in-memory-room-broker';
import { InMemoryRoomStore } from './in-memory-room-store';
import type { PublicationData } from './publication';
import { HOLD_MAX_PUBLICATIONS, RoomHub, RoomMember } from './room-hub';

/** A local member that records what the hub writes to it. */
function member(userId: string): RoomMember & { frames: unknown[]; overflowed: boolean } {
  const frames: unknown[] = [];
  const recorded = {
    userId,
    frames,
    overflowed: false,
    send: (payload: string | Buffer) => frames.push(JSON.parse(payload.toString())),
    overflow: () => (recorded.overflowed = true),
  };
  return recorded;
}

const at = (offset: number) => ({ offset, epoch: expect.any(String) as string });

describe('RoomHub', () => {
  let broker: InMemoryRoomBroker;
  let hub: RoomHub;

  beforeEach(async () => {
    broker = new InMemoryRoomBroker();
    hub = new RoomHub(broker, new InMemoryRoomStore(), configWith({}));
    await broker.subscribe('lobby');
  });

  afterEach(() => broker.onModuleDestroy());

  const publish = (data: PublicationData) => broker.publish('lobby', data);

  it('writes a published frame to every member of the room, with its offset and epoch', async () => {
    const [a, b] = [member('alice'), member('bob')];
    hub.add('lobby', a);
    hub.add('lobby', b);
    const { offset, epoch } = await publish({
      kind: 'frame',
      frame: '{"type":"chat_message","content":"hi"}',
    });
    for (const m of [a, b]) {
      expect(m.frames).toEqual([{ type: 'chat_message', content: 'hi', offset, epoch }]);
    }
  });

  it('renders a join as user_joined for everyone but the user who joined, on every connection', async () => {
    const [a, b, b2] = [member('alice'), member('bob'), member('bob')];
    for (const m of [a, b, b2]) hub.add('lobby', m);
    await publish({ kind: 'join', userId: 'bob' });
    expect(a.frames).toEqual([
      {
        type: 'user_joined',
        userId: 'bob',
        roomId: 'lobby',
        message: 'bob joined the room',
        timestamp: expect.any(String),
        ...at(1),
      },
    ]);
    expect(b.frames).toEqual([]);
    expect(b2.frames).toEqual([]);
  });

  it('renders a leave as user_left for every remaining member', async () => {
    const a = member('alice');
    hub.add('lobby', a);
    await publish({ kind: 'leave', userId: 'bob' });
    expect(a.frames).toEqual([
      {
        type: 'user_left',
        userId: 'bob',
        roomId: 'lobby',
        message: 'bob left the room',
        timestamp: expect.any(String),
        ...at(1),
      },
    ]);
  });

  it('stops writing to a member once it left, and forgets an empty room', async () => {
    const [leaving, staying] = [member('alice'), member('bob')];
    hub.add('lobby', leaving);
    hub.add('lobby', staying);
    hub.remove('lobby', leaving);
    await publish({ kind: 'frame', frame: '{"text":"after you left"}' });
    expect(leaving.frames).toEqual([]);
    expect(staying.frames).toEqual([{ text: 'after you left', ...at(1) }]);
    hub.remove('lobby', staying);
    expect(hub.roomCount).toBe(0);
  });

  describe('holding a joining member', () => {
    const chat = (n: number) => publish({ kind: 'frame', frame: `{"n":${n}}` });

    it('sends what it was held from after the position it was released at, in order', async () => {
      const [joiner, other] = [member('alice'), member('bob')];
      hub.add('lobby', other);
      hub.add('lobby', joiner);
      hub.hold('lobby', joiner);
      await chat(1);
      const position = await chat(2);
      await chat(3);
      await publish({ kind: 'join', userId: 'alice' }); // its own join: never sent to it
      await chat(4);
      expect(joiner.frames).toEqual([]);
      expect(other.frames).toHaveLength(5);
      hub.release('lobby', joiner, position);
      expect(joiner.frames).toEqual([
        { n: 3, ...at(3) },
        { n: 4, ...at(5) },
      ]);
      await chat(5);
      expect(joiner.frames).toHaveLength(3);
    });

    it('drops a publication up to the release position that arrives only after the release', () => {
      // With Redis the position is read on the command connection, publications arrive on the
      // subscriber's: one already replayed may come after the release.
      const joiner = member('alice');
      hub.add('lobby', joiner);
      hub.hold('lobby', joiner);
      hub.release('lobby', joiner, { offset: 2, epoch: 'e' });
      const late = (offset: number) => ({
        roomId: 'lobby',
        offset,
        epoch: 'e',
        data: { kind: 'frame', frame: `{"n":${offset}}` } as const,
      });
      hub.deliver(late(1));
      hub.deliver(late(2));
      hub.deliver(late(3));
      hub.deliver(late(2)); // past the floor now: the broker never sends one twice
      expect(joiner.frames).toEqual([
        { n: 3, offset: 3, epoch: 'e' },
        { n: 2, offset: 2, epoch: 'e' },
      ]);
    });

    it('sends everything held when released at another epoch (the stream started over)', async () => {
      const joiner = member('alice');
      hub.add('lobby', joiner);
      hub.hold('lobby', joiner);
      await chat(1);
      await chat(2);
      hub.release('lobby', joiner, { offset: 5, epoch: 'another' });
      expect(joiner.frames).toEqual([
        { n: 1, ...at(1) },
        { n: 2, ...at(2) },
      ]);
    });

    it('closes a held member as too slow past HOLD_MAX_PUBLICATIONS', async () => {
      const joiner = member('alice');
      hub.add('lobby', joiner);
      hub.hold('lobby', joiner);
      for (let n = 0; n <= HOLD_MAX_PUBLICATIONS; n++) await chat(n);
      expect(joiner.overflowed).toBe(true);
    });

    it('closes a held member as too slow past half of MAX_BUFFERED_BYTES of held frames', async () => {
      const small = new RoomHub(
        broker,
        new InMemoryRoomStore(),
        configWith({ MAX_BUFFERED_BYTES: 4096 }),
      );
      const joiner = member('alice');
      small.add('lobby', joiner);
      small.hold('lobby', joiner);
      const frame = JSON.stringify({ type: 'chat_message', content: 'x'.repeat(900) });
      for (let n = 0; n < 2; n++) await publish({ kind: 'frame', frame });
      expect(joiner.overflowed).toBe(false);
      await publish({ kind: 'frame', frame });
      expect(joiner.overflowed).toBe(true);
    });

    it('renders a publication for a replay, leaving out the recipient’s own join and leave', () => {
      const position = { offset: 7, epoch: 'e1' };
      const of = (data: PublicationData) => ({ roomId: 'lobby', ...position, data });
      expect(hub.render(of({ kind: 'join', userId: 'alice' }), 'alice')).toBeUndefined();
      expect(hub.render(of({ kind: 'leave', userId: 'alice' }), 'alice')).toBeUndefined();
      const leave = of({ kind: 'leave', userId: 'bob', at: Date.UTC(2026, 11, 7, 19, 0, 0, 250) });
      expect(JSON.parse(hub.render(leave, 'alice') ?? '')).toEqual({
        type: 'user_left',
        userId: 'bob',
        roomId: 'lobby',
        message: 'bob left the room',
        timestamp: '2026-12-07T19:00:00.250Z',
        ...position,
      });
      // Degraded (never in the stream): no position.
      const degraded = {
        roomId: 'lobby',
        offset: 0,
        epoch: '',
        data: { kind: 'frame', frame: '{"n":1}' },
      } as const;
      expect(JSON.parse(hub.render(degraded) ?? '')).toEqual({ n: 1 });
    });
  });

  describe('in a room over JOIN_LEAVE_MAX_MEMBERS', () => {
    const INTERVAL = 1000;
    let store: InMemoryRoomStore;
    let watcher: ReturnType<typeof member>;

    beforeEach(async () => {
      jest.useFakeTimers();
      broker.onModuleDestroy();
      broker = new InMemoryRoomBroker();
      store = new InMemoryRoomStore(broker);
      hub = new RoomHub(
        broker,
        store,
        configWith({ JOIN_LEAVE_MAX_MEMBERS: 3, PRESENCE_DIFF_INTERVAL_MS: INTERVAL }),
      );
      await broker.subscribe('lobby');
      watcher = member('watcher');
      await store.add('lobby', { userId: 'watcher', connectionId: 'w' });
      hub.add('lobby', watcher);
      await jest.advanceTimersByTimeAsync(0); // the hub reads the room's size
    });

    afterEach(() => jest.useRealTimers());

    const join = (userId: string) => store.add('lobby', { userId, connectionId: userId });
    const leave = (userId: string) => store.remove('lobby', { userId, connectionId: userId });

    it('sends one presence_diff per interval instead of a frame per join and leave', async () => {
      await join('u1');
      await join('u2'); // 3 users: still one frame each
      expect(watcher.frames.map((f) => (f as { type: string }).type)).toEqual([
        'user_joined',
        'user_joined',
      ]);
      watcher.frames.length = 0;
      for (const u of ['u3', 'u4', 'u5']) await join(u);
      await leave('u1');
      expect(watcher.frames).toEqual([]);
      await jest.advanceTimersByTimeAsync(INTERVAL);
      expect(watcher.frames).toEqual([
        {
          type: 'presence_diff',
          roomId: 'lobby',
          joined: ['u3', 'u4', 'u5'],
          left: ['u1'],
          count: 5,
        },
      ]);
    });

    it('leaves out a user who joined and left within one interval, and sends nothing if that is all', async () => {
      for (const u of ['u1', 'u2', 'u3']) await join(u);
      await jest.advanceTimersByTimeAsync(INTERVAL);
      watcher.frames.length = 0;
      await join('passing');
      await leave('passing');
      await jest.advanceTimersByTimeAsync(INTERVAL * 3);
      expect(watcher.frames).toEqual([]);
    });

    it('goes back to user_joined and user_left once the room is small again', async () => {
      for (const u of ['u1', 'u2', 'u3']) await join(u);
      await leave('u3');
      await leave('u2');
      await jest.advanceTimersByTimeAsync(INTERVAL);
      watcher.frames.length = 0;
      await leave('u1');
      expect(watcher.frames).toEqual([
        {
          type: 'user_left',
          userId: 'u1',
          roomId: 'lobby',
          message: 'u1 left the room',
          timestamp: expect.any(String),
          ...at(7),
        },
      ]);
    });
  });

  describe('in a small room in a burst of joins and leaves', () => {
    const INTERVAL = 1000;
    let store: InMemoryRoomStore;
    let watcher: ReturnType<typeof member>;

    beforeEach(async () => {
      jest.useFakeTimers();
      broker.onModuleDestroy();
      broker = new InMemoryRoomBroker();
      store = new InMemoryRoomStore(broker);
      const config = { JOIN_LEAVE_BURST: 3, PRESENCE_DIFF_INTERVAL_MS: INTERVAL };
      hub = new RoomHub(broker, store, configWith(config));
      await broker.subscribe('lobby');
      watcher = member('watcher');
      await store.add('lobby', { userId: 'watcher', connectionId: 'w' });
      hub.add('lobby', watcher);
      await jest.advanceTimersByTimeAsync(0);
    });

    afterEach(() => jest.useRealTimers());

    const join = (userId: string) => store.add('lobby', { userId, connectionId: userId });
    const types = () => watcher.frames.map((f) => (f as { type: string }).type);

    it('sends JOIN_LEAVE_BURST frames, then one presence_diff per interval while the burst lasts', async () => {
      for (let i = 0; i < 8; i++) await join(`u${i}`);
      expect(types()).toEqual(['user_joined', 'user_joined', 'user_joined']);
      await jest.advanceTimersByTimeAsync(INTERVAL / 2);
      for (let i = 8; i < 12; i++) await join(`u${i}`);
      await jest.advanceTimersByTimeAsync(INTERVAL / 2);
      expect(watcher.frames.at(-1)).toEqual({
        type: 'presence_diff',
        roomId: 'lobby',
        joined: ['u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9', 'u10', 'u11'],
        left: [],
        count: 13,
      });
      watcher.frames.length = 0;
      // Within an interval of the last change the burst goes on: one change is a diff too.
      await jest.advanceTimersByTimeAsync(INTERVAL / 4);
      await join('u12');
      expect(types()).toEqual([]);
      await jest.advanceTimersByTimeAsync(INTERVAL);
      expect(types()).toEqual(['presence_diff']);
    });

    it('names at most PRESENCE_DIFF_MAX_USERS users in each list of a diff, and says so', async () => {
      const config = { JOIN_LEAVE_BURST: 1, PRESENCE_DIFF_INTERVAL_MS: INTERVAL };
      const small = new RoomHub(
        broker,
        store,
        configWith({ ...config, PRESENCE_DIFF_MAX_USERS: 2 }),
      );
      const seer = member('seer');
      small.add('lobby', seer);
      await jest.advanceTimersByTimeAsync(0);
      for (let i = 0; i < 6; i++) await join(`u${i}`);
      await jest.advanceTimersByTimeAsync(INTERVAL);
      expect(seer.frames.at(-1)).toEqual({
        type: 'presence_diff',
        roomId: 'lobby',
        joined: ['u1', 'u2'],
        left: [],
        count: 7,
        truncated: true,
      });
      small.onModuleDestroy();
    });

    it('goes back to user_joined once an interval passed without a change', async () => {
      for (let i = 0; i < 5; i++) await join(`u${i}`);
      await jest.advanceTimersByTimeAsync(INTERVAL * 3);
      watcher.frames.length = 0;
      await join('late');
      expect(types()).toEqual(['user_joined']);
    });
  });
});
