import type { Socket } from 'node:net';
import { eventFrames } from '../src/protocol/event.protocol';
import { RoomBroker } from '../src/rooms/room-broker';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient, joinedClient } from './support/test-client';
import { isChat } from './support/expected-frames';

/*
 * A recovery sends what the socket can take and goes on as it drains: a replay many times the
 * send-queue bound completes, in order, followed by what was published meanwhile, once each.
 */

const MAX_BUFFERED_BYTES = 64 * 1024;
const MISSED = 1_000;
const LIVE = 5;

/** The TCP socket under a client's WebSocket, to stop reading it for a while. */
function tcpOf(client: TestClient): Socket {
  return (client.socket as unknown as { _socket: Socket })._socket;
}

describe('paced recovery', () => {
  let app: RunningApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    app = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      MAX_BUFFERED_BYTES,
      HISTORY_SIZE: 2_000,
      RECOVERY_MAX: 2_000,
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.close();
  });

  it(`replays ${MISSED} frames of 9,000 characters (137 × MAX_BUFFERED_BYTES) in order, then the live ones, instead of closing 1013`, async () => {
    const alice = await joinedClient(app.wsUrl, 'alice', 'big');
    clients.push(alice);
    const say = (content: string): Promise<Frame> =>
      alice.request({ type: 'chat_message', userId: 'alice', content }, isChat(content));
    const first = await say('before');
    const missed: string[] = [];
    for (let i = 0; i < MISSED; i++) {
      const content = `${i}:`.padEnd(9_000, 'm');
      missed.push(content);
      await say(content);
    }

    const bob = await TestClient.connect(app.wsUrl);
    clients.push(bob);
    const frames: Frame[] = [];
    bob.socket.on('message', (data) =>
      frames.push(JSON.parse((data as Buffer).toString()) as Frame),
    );
    // Bob reads nothing while the replay starts and alice goes on publishing.
    tcpOf(bob).pause();
    bob.send({
      type: 'join',
      userId: 'bob',
      roomId: 'big',
      since: { offset: first.offset, epoch: first.epoch },
    });
    const live: string[] = [];
    for (let i = 0; i < LIVE; i++) {
      live.push(`live ${i}`);
      await say(`live ${i}`);
    }
    tcpOf(bob).resume();
    await bob.next(isChat(`live ${LIVE - 1}`), 10_000);

    const joined = frames.findIndex((frame) => frame.type === 'joined');
    expect(frames[joined]).toMatchObject({ type: 'joined', recovered: true });
    const chats = frames.filter((frame) => frame.type === 'chat_message');
    expect(chats.map((frame) => frame.content)).toEqual([...missed, ...live]);
    const offsets = chats.map((frame) => frame.offset as number);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    // The replay ends where `joined` stands; what follows it is live.
    const replayed = frames.slice(0, joined).filter((frame) => frame.type === 'chat_message');
    expect(replayed.map((frame) => frame.content)).toEqual(
      missed.concat(live).slice(0, replayed.length),
    );
    expect(replayed.length).toBeGreaterThanOrEqual(MISSED);
    expect(bob.socket.readyState).toBe(bob.socket.OPEN);
  });

  it('lets a follower behind a 6 MB event (published before MAX_EVENT_BYTES was lowered) catch up', async () => {
    const old = await startApp(PROTOCOL_TEST_LIMITS);
    try {
      const rpc = (client: TestClient, method: string, params: object): Promise<Frame> =>
        client.request(
          { type: 'rpc', method, params, correlation_id: method },
          (frame) => frame.correlation_id === method,
        );
      const follower = await TestClient.connect(old.wsUrl);
      clients.push(follower);
      const since = (await rpc(follower, 'join_room', { room: 'workspace:w' })).result as Frame;
      await follower.close();
      // Written into the room's stream directly, as an older release let it through.
      const content = 'c'.repeat(6 * 1_048_576);
      const data = { workspace_id: 'w', file_path: 'a', event_type: 'modify', content };
      const frame = eventFrames.event('workspace.file_changed', 'workspace:w', data, new Date());
      await old.app.get<RoomBroker>(RoomBroker).publish('workspace:w', { kind: 'frame', frame });

      const back = await TestClient.connect(old.wsUrl);
      clients.push(back);
      tcpOf(back).pause();
      back.send({
        type: 'rpc',
        method: 'join_room',
        params: { room: 'workspace:w', since: { offset: since.offset, epoch: since.epoch } },
        correlation_id: 'rejoin',
      });
      tcpOf(back).resume();
      const event = await back.next('event', 10_000);
      expect((event.data as { content: string }).content).toHaveLength(content.length);
      expect(await back.next((frame) => frame.correlation_id === 'rejoin')).toMatchObject({
        result: { recovered: true },
      });
    } finally {
      await old.close();
    }
  });
});
