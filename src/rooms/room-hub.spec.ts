import { InMemoryRoomBroker } from './in-memory-room-broker';
import type { PublicationData } from './publication';
import { RoomHub, RoomMember } from './room-hub';

/** A local member that records what the hub writes to it. */
function member(userId: string): RoomMember & { frames: unknown[] } {
  const frames: unknown[] = [];
  return { userId, frames, send: (payload) => frames.push(JSON.parse(payload.toString())) };
}

describe('RoomHub', () => {
  let broker: InMemoryRoomBroker;
  let hub: RoomHub;

  beforeEach(async () => {
    broker = new InMemoryRoomBroker();
    hub = new RoomHub(broker);
    await broker.subscribe('lobby');
  });

  afterEach(() => broker.onModuleDestroy());

  const publish = (data: PublicationData) => broker.publish('lobby', data);

  it('writes a published frame as it is to every member of the room', async () => {
    const [a, b] = [member('alice'), member('bob')];
    hub.add('lobby', a);
    hub.add('lobby', b);
    await publish({ kind: 'frame', frame: '{"type":"chat_message","content":"hi"}' });
    for (const m of [a, b]) expect(m.frames).toEqual([{ type: 'chat_message', content: 'hi' }]);
  });

  it('renders a join as user_joined for everyone but the user who joined, on every connection', async () => {
    const [a, b, b2] = [member('alice'), member('bob'), member('bob')];
    for (const m of [a, b, b2]) hub.add('lobby', m);
    await publish({ kind: 'join', userId: 'bob' });
    expect(a.frames).toEqual([
      { type: 'user_joined', userId: 'bob', roomId: 'lobby', message: 'bob joined the room' },
    ]);
    expect(b.frames).toEqual([]);
    expect(b2.frames).toEqual([]);
  });

  it('renders a leave as user_left for every remaining member', async () => {
    const a = member('alice');
    hub.add('lobby', a);
    await publish({ kind: 'leave', userId: 'bob' });
    expect(a.frames).toEqual([
      { type: 'user_left', userId: 'bob', roomId: 'lobby', message: 'bob left the room' },
    ]);
  });

  it('stops writing to a member once it left, and forgets an empty room', async () => {
    const [leaving, staying] = [member('alice'), member('bob')];
    hub.add('lobby', leaving);
    hub.add('lobby', staying);
    hub.remove('lobby', leaving);
    await publish({ kind: 'frame', frame: '"after you left"' });
    expect(leaving.frames).toEqual([]);
    expect(staying.frames).toEqual(['after you left']);
    hub.remove('lobby', staying);
    expect(hub.roomCount).toBe(0);
  });
});
