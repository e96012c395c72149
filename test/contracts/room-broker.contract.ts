import { RoomFrame, frames } from '../../src/protocol/chat.protocol';
import type { Connection } from '../../src/transport/connection';
import { eventually } from '../support/eventually';
import { RecordingSocket, recordedConnection } from '../support/recording-socket';
import type { RoomBroker } from '../../src/rooms/room-broker';
import type { RoomHub } from '../../src/rooms/room-hub';

/** A broker and the hub of local connections it delivers to, as one instance has them. */
export interface RoomBrokerUnderTest {
  broker: RoomBroker;
  hub: RoomHub;
}

/** How long a frame may take to arrive (Redis delivers through its own round trip). */
const DELIVERY_TIMEOUT_MS = 5_000;

/** The socket side of a Connection: records the frames the broker writes to it. */

interface Member {
  connection: Connection;
  socket: RecordingSocket;
}

/**
 * The behaviour every RoomBroker must have, run against each implementation (in memory, Redis).
 * `create` returns a broker with an empty hub (and whatever its `dispose` needs); `dispose`
 * releases it. Delivery may be
 * asynchronous, so the cases wait (bounded) for frames, and prove that a frame did not arrive by
 * publishing a marker to the same room afterwards: frames of one caller arrive in order, so once
 * the marker is in, anything published before it would be too.
 */
export function describeRoomBrokerContract<T extends RoomBrokerUnderTest>(
  name: string,
  create: () => Promise<T>,
  dispose: (underTest: T) => Promise<void> = () => Promise.resolve(),
): void {
  describe(`RoomBroker contract: ${name}`, () => {
    let underTest: T;
    let broker: RoomBroker;
    let hub: RoomHub;
    /** Subscriptions taken by the case, released after it. */
    let subscriptions: string[];
    let markers = 0;
    let users = 0;

    beforeEach(async () => {
      underTest = await create();
      ({ broker, hub } = underTest);
      subscriptions = [];
    });

    afterEach(async () => {
      for (const roomId of subscriptions.splice(0)) await broker.unsubscribe(roomId);
      await dispose(underTest);
    });

    async function subscribe(roomId: string): Promise<void> {
      await broker.subscribe(roomId);
      subscriptions.push(roomId);
    }

    async function unsubscribe(roomId: string): Promise<void> {
      subscriptions.splice(subscriptions.indexOf(roomId), 1);
      await broker.unsubscribe(roomId);
    }

    /** A local connection entering `roomId` the way RoomsService does: subscribe, then hub. */
    async function member(roomId: string, userId = `user${++users}`): Promise<Member> {
      const { connection, socket } = recordedConnection(userId);
      await subscribe(roomId);
      hub.add(roomId, connection);
      return { connection, socket };
    }

    const chat = (roomId: string, content: string): RoomFrame =>
      frames.chatMessage('sender', roomId, content, new Date('2024-01-02T03:04:05.678Z'));

    /** Publishes a marker to `roomId` and waits until every receiver has it; returns it. */
    async function marker(roomId: string, receivers: Member[]): Promise<RoomFrame> {
      const frame = chat(roomId, `marker ${++markers}`);
      await broker.publish(roomId, frame);
      await received(receivers, frame);
      return frame;
    }

    async function received(receivers: Member[], frame: RoomFrame): Promise<void> {
      const wanted = JSON.stringify(frame);
      await eventually(
        () => `${wanted} at every receiver`,
        () => receivers.every((r) => r.socket.sent.some((f) => JSON.stringify(f) === wanted)),
        DELIVERY_TIMEOUT_MS,
      );
    }

    it('delivers a published frame once to every connection of the room', async () => {
      const members = [await member('lobby'), await member('lobby'), await member('lobby')];
      const frame = chat('lobby', 'hello');
      await broker.publish('lobby', frame);
      const end = await marker('lobby', members);
      for (const { socket } of members) expect(socket.sent).toEqual([frame, end]);
    });

    it('leaves out every connection of the excluded user, and only those', async () => {
      const [a, b, b2, c] = [
        await member('lobby', 'alice'),
        await member('lobby', 'bob'),
        await member('lobby', 'bob'),
        await member('lobby', 'carol'),
      ];
      const frame = frames.userJoined('bob', 'lobby');
      await broker.publish('lobby', frame, 'bob');
      const end = await marker('lobby', [a, b, b2, c]);
      expect(a.socket.sent).toEqual([frame, end]);
      expect(b.socket.sent).toEqual([end]);
      expect(b2.socket.sent).toEqual([end]);
      expect(c.socket.sent).toEqual([frame, end]);
    });

    it('keeps rooms apart', async () => {
      const red = await member('red');
      const blue = await member('blue');
      const toRed = chat('red', 'for red');
      const toBlue = chat('blue', 'for blue');
      await broker.publish('red', toRed);
      await broker.publish('blue', toBlue);
      await broker.publish('nobody-here', chat('nobody-here', 'for no one'));
      const redEnd = await marker('red', [red]);
      const blueEnd = await marker('blue', [blue]);
      expect(red.socket.sent).toEqual([toRed, redEnd]);
      expect(blue.socket.sent).toEqual([toBlue, blueEnd]);
    });

    it('delivers 200 frames of one caller in the order of the calls', async () => {
      const members = [await member('lobby'), await member('lobby')];
      const sent = Array.from({ length: 200 }, (_, i) => chat('lobby', `message ${i}`));
      // Called back to back without awaiting each: the order is that of the calls.
      await Promise.all(sent.map((frame) => broker.publish('lobby', frame)));
      await received(members, sent[sent.length - 1]);
      for (const { socket } of members) expect(socket.sent).toEqual(sent);
    });

    it('delivers every kind of room frame unchanged, whatever its text', async () => {
      const receiver = await member('lobby');
      const sent: RoomFrame[] = [
        chat('lobby', 'two\nlines, "quotes", \\backslash\\, tab\t, ü, 你好, 🎉'),
        chat('lobby', '\n'),
        frames.userJoined('a.b:c@d-e_f', 'lobby'),
        frames.userLeft('a.b:c@d-e_f', 'lobby'),
      ];
      for (const frame of sent) await broker.publish('lobby', frame);
      const end = await marker('lobby', [receiver]);
      expect(receiver.socket.sent).toEqual([...sent, end]);
    });

    it('handles room ids that look like patterns or separators like any other', async () => {
      const rooms = ['*', 'room:*', 'a?b', '[ab]', 'lobby:x', '__proto__'];
      const members = await Promise.all(rooms.map((roomId) => member(roomId)));
      const lobby = await member('lobby');
      for (const roomId of rooms) await broker.publish(roomId, chat(roomId, `to ${roomId}`));
      for (const [i, roomId] of rooms.entries()) {
        const end = await marker(roomId, [members[i]]);
        expect(members[i].socket.sent).toEqual([chat(roomId, `to ${roomId}`), end]);
      }
      const end = await marker('lobby', [lobby]);
      expect(lobby.socket.sent).toEqual([end]);
    });

    it('counts subscriptions: subscribed twice and unsubscribed once, the room still arrives', async () => {
      const staying = await member('lobby');
      await subscribe('lobby');
      await unsubscribe('lobby');
      const frame = chat('lobby', 'still here');
      await broker.publish('lobby', frame);
      const end = await marker('lobby', [staying]);
      expect(staying.socket.sent).toEqual([frame, end]);
    });

    it('receives a room again after its last subscription was released', async () => {
      await subscribe('lobby');
      await unsubscribe('lobby');
      const again = await member('lobby');
      const frame = chat('lobby', 'welcome back');
      await broker.publish('lobby', frame);
      const end = await marker('lobby', [again]);
      expect(again.socket.sent).toEqual([frame, end]);
    });

    it('stops writing to a connection once it left the hub', async () => {
      const leaving = await member('lobby');
      const staying = await member('lobby');
      hub.remove('lobby', leaving.connection);
      await unsubscribe('lobby');
      const frame = chat('lobby', 'after you left');
      await broker.publish('lobby', frame);
      const end = await marker('lobby', [staying]);
      expect(staying.socket.sent).toEqual([frame, end]);
      expect(leaving.socket.sent).toEqual([]);
    });
  });
}
