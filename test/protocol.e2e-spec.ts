import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { Frame, TestClient } from './support/test-client';
import {
  chatFrame,
  isChat,
  joinedFrame,
  userJoinedFrame,
  userLeftFrame,
  POSITIONED,
} from './support/expected-frames';
import { eventually } from './support/eventually';

/*
 * Point 3 of the issue ("Protocol"), rule by rule, against the real app and real `ws` clients.
 * The expected frames are spelled out literally here rather than built with the server's own
 * helpers: these specs pin the wire contract, not the implementation.
 *
 * Absence ("B must not receive X") is never proven by sleeping: a marker chat_message is sent
 * through the same room after the event, and once it has arrived every frame the room produced
 * before it has arrived too, because one room's frames reach a client in order.
 */

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

interface ChatCounts {
  connections: number;
  rooms: number;
}

describe('chat protocol', () => {
  let server: RunningApp;
  let clients: TestClient[];
  let markers = 0;

  beforeEach(async () => {
    server = await startApp(PROTOCOL_TEST_LIMITS);
    clients = [];
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  });

  /** Opens a client that is closed after the test. */
  async function connect(pathAndQuery = ''): Promise<TestClient> {
    const client = await TestClient.connect(`${server.wsUrl}${pathAndQuery}`);
    clients.push(client);
    return client;
  }

  /** Opens a client and joins as `userId` (into `roomId`, if given); resolves after `joined`. */
  async function member(userId: string, roomId?: string): Promise<TestClient> {
    const client = await connect();
    await client.request(join(userId, roomId), 'joined');
    return client;
  }

  function join(userId: string, roomId?: string): object {
    return { type: 'join', userId, ...(roomId === undefined ? {} : { roomId }) };
  }

  function chat(userId: string, content: string): object {
    return { type: 'chat_message', userId, content };
  }

  /**
   * Sends a unique chat message from `sender` (joined as `userId`) and waits until every one of
   * `observers` has received it: whatever the room sent them before it has then arrived as well.
   */
  async function marker(sender: TestClient, userId: string, observers: TestClient[]) {
    const content = `marker ${++markers}`;
    const arrivals = observers.map((observer) => observer.next(isChat(content)));
    sender.send(chat(userId, content));
    await Promise.all(arrivals);
  }

  async function chatCounts(): Promise<ChatCounts> {
    const response = await fetch(`${server.httpUrl}/health`);
    const body = (await response.json()) as { details: { chat: ChatCounts } };
    const { connections, rooms } = body.details.chat;
    return { connections, rooms };
  }

  /** Polls the health counts until `done` holds: the server handles a close after the client saw
   * it, and a lone leaver produces no frame to wait for. */
  async function countsUntil(done: (counts: ChatCounts) => boolean): Promise<ChatCounts> {
    return eventually(`the health counts to satisfy ${String(done)}`, chatCounts, { done });
  }

  describe('join', () => {
    it('replies joined with the room and user to the joiner', async () => {
      const alice = await connect();

      const reply = await alice.request(join('alice', 'lobby'), 'joined');

      expect(reply).toEqual(joinedFrame('alice', 'lobby'));
    });

    it('joins the room named after the user when roomId is left out', async () => {
      const alice = await connect();
      const bob = await member('bob', 'alice');

      expect(await alice.request(join('alice'), 'joined')).toEqual(joinedFrame('alice', 'alice'));
      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', 'alice'));
    });

    // Clients that serialize an absent optional field as null (Python's None) mean "no room".
    it('treats a null roomId as left out', async () => {
      const alice = await connect();

      expect(
        await alice.request({ type: 'join', userId: 'alice', roomId: null }, 'joined'),
      ).toEqual(joinedFrame('alice', 'alice'));
    });

    it('tells every other member of the room that the user joined', async () => {
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'lobby');
      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('carol', 'lobby'));

      await member('alice', 'lobby');

      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', 'lobby'));
      expect(await carol.next('user_joined')).toEqual(userJoinedFrame('alice', 'lobby'));
    });

    it('does not send the joiner a user_joined about itself', async () => {
      const bob = await member('bob', 'lobby');
      const alice = await member('alice', 'lobby');

      await marker(alice, 'alice', [alice, bob]);

      expect(alice.unread('user_joined')).toEqual([]);
      expect(alice.unread()).toEqual([]);
    });

    it('accepts ids of 128 characters made of every allowed character class', async () => {
      const userId = `Az09_.:@-${'u'.repeat(119)}`;
      const roomId = `-@:._90zA${'r'.repeat(119)}`;
      expect(userId).toHaveLength(128);
      expect(roomId).toHaveLength(128);
      const observer = await member('observer', roomId);
      const client = await connect();

      expect(await client.request(join(userId, roomId), 'joined')).toEqual(
        joinedFrame(userId, roomId),
      );
      expect(await observer.next('user_joined')).toEqual(userJoinedFrame(userId, roomId));
      expect(await client.request(chat(userId, 'hi'), 'chat_message')).toEqual(
        chatFrame(userId, roomId, 'hi'),
      );
    });

    it('to the room the connection is already in only replies joined', async () => {
      const bob = await member('bob', 'lobby');
      const alice = await member('alice', 'lobby');
      await bob.next('user_joined');

      expect(await alice.request(join('alice', 'lobby'), 'joined')).toEqual(
        joinedFrame('alice', 'lobby'),
      );
      // The default roomId names the same room for a user in its own room.
      const carol = await member('carol');
      expect(await carol.request(join('carol'), 'joined')).toEqual(joinedFrame('carol', 'carol'));

      await marker(alice, 'alice', [alice, bob]);
      await marker(carol, 'carol', [carol]);
      expect(bob.unread()).toEqual([]);
      expect(alice.unread()).toEqual([]);
      expect(carol.unread()).toEqual([]);
      expect(await chatCounts()).toEqual({ connections: 3, rooms: 2 });
    });

    it('to another room while in one behaves as switch_room', async () => {
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'games');
      const alice = await member('alice', 'lobby');
      await bob.next('user_joined');

      expect(await alice.request(join('alice', 'games'), 'joined')).toEqual(
        joinedFrame('alice', 'games'),
      );

      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'lobby'));
      expect(await carol.next('user_joined')).toEqual(userJoinedFrame('alice', 'games'));
      expect(await alice.request(chat('alice', 'hello games'), 'chat_message')).toEqual(
        chatFrame('alice', 'games', 'hello games'),
      );
      expect(await carol.next('chat_message')).toEqual(chatFrame('alice', 'games', 'hello games'));
      // The connection is in one room at a time: lobby's traffic no longer reaches it.
      await marker(bob, 'bob', [bob]);
      await marker(alice, 'alice', [alice, carol]);
      expect(alice.unread()).toEqual([]);
      expect(bob.unread()).toEqual([]);
    });

    it('to another room deletes the room it left when that room is now empty', async () => {
      const alice = await member('alice', 'lobby');
      expect(await chatCounts()).toEqual({ connections: 1, rooms: 1 });

      await alice.request(join('alice', 'games'), 'joined');

      expect(await chatCounts()).toEqual({ connections: 1, rooms: 1 });
      await alice.request(join('alice', 'lobby'), 'joined');
      expect(await chatCounts()).toEqual({ connections: 1, rooms: 1 });
    });
  });

  describe('auto-join with ?userId=', () => {
    it.each(['/', '/ws'])(
      'joins the user to its own room at %s and replies joined without any message sent',
      async (path) => {
        const alice = await connect(`${path}?userId=alice`);

        expect(await alice.next('joined')).toEqual(joinedFrame('alice', 'alice'));
      },
    );

    it('tells the members of the user’s own room that the user joined', async () => {
      const bob = await member('bob', 'alice');

      const alice = await connect('?userId=alice');
      await alice.next('joined');

      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', 'alice'));
      expect(await alice.request(chat('alice', 'hi bob'), 'chat_message')).toEqual(
        chatFrame('alice', 'alice', 'hi bob'),
      );
      expect(await bob.next('chat_message')).toEqual(chatFrame('alice', 'alice', 'hi bob'));
    });

    it('leaves the connection free to switch rooms afterwards', async () => {
      const alice = await connect('?userId=alice');
      await alice.next('joined');
      const bob = await member('bob', 'alice');
      const carol = await member('carol', 'lobby');

      expect(await alice.request(join('alice', 'lobby'), 'joined')).toEqual(
        joinedFrame('alice', 'lobby'),
      );

      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'alice'));
      expect(await carol.next('user_joined')).toEqual(userJoinedFrame('alice', 'lobby'));
    });

    it('is followed by only joined when the client also sends its own join', async () => {
      const bob = await member('bob', 'alice');
      const alice = await connect('?userId=alice');
      await alice.next('joined');
      await bob.next('user_joined');

      expect(await alice.request(join('alice'), 'joined')).toEqual(joinedFrame('alice', 'alice'));

      await marker(alice, 'alice', [alice, bob]);
      expect(alice.unread()).toEqual([]);
      expect(bob.unread()).toEqual([]);
    });
  });

  describe('chat_message', () => {
    it('reaches every member of the room, the sender included', async () => {
      const alice = await member('alice', 'lobby');
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'lobby');

      alice.send(chat('alice', 'Hello everyone!'));

      const expected = chatFrame('alice', 'lobby', 'Hello everyone!');
      const received = await Promise.all([alice, bob, carol].map((c) => c.next('chat_message')));
      for (const frame of received) expect(frame).toEqual(expected);
      // One message, one server timestamp, the same for everyone.
      expect(new Set(received.map((frame) => frame.timestamp)).size).toBe(1);
    });

    it('carries an ISO-8601 timestamp from the server clock', async () => {
      const alice = await member('alice', 'lobby');
      const before = Date.now();

      const frame = await alice.request(chat('alice', 'what time is it?'), 'chat_message');

      const after = Date.now();
      expect(frame.timestamp).toMatch(ISO_8601);
      const at = Date.parse(frame.timestamp as string);
      expect(Number.isNaN(at)).toBe(false);
      // Loose on purpose: the timestamp is "now" on the server, not how fast it was stamped.
      expect(at).toBeGreaterThanOrEqual(before - 60_000);
      expect(at).toBeLessThanOrEqual(after + 60_000);
    });

    it('stamps the time itself and keeps the room it knows, whatever the client adds', async () => {
      const alice = await member('alice', 'lobby');
      const bob = await member('bob', 'elsewhere');

      const frame = await alice.request(
        {
          type: 'chat_message',
          userId: 'alice',
          content: 'spoofed?',
          timestamp: '2000-01-01T00:00:00.000Z',
          ...POSITIONED,
          roomId: 'elsewhere',
        },
        'chat_message',
      );

      expect(frame).toEqual(chatFrame('alice', 'lobby', 'spoofed?'));
      expect(frame.timestamp).not.toBe('2000-01-01T00:00:00.000Z');
      await marker(bob, 'bob', [bob]);
      expect(bob.unread()).toEqual([]);
    });

    it.each([
      ['unicode and emoji', 'héllo wörld 👋🏽 你好 مرحبا'],
      ['new lines and tabs', 'line one\nline two\r\n\tindented'],
      ['quotes and backslashes', 'she said "hi" \\ \'bye\''],
      ['text that looks like JSON', '{"type":"join","userId":"mallory"}'],
      ['markup', '<script>alert(1)</script>'],
      ['a single character', 'x'],
      ['only spaces', '   '],
    ])('delivers content with %s exactly as sent', async (_name, content) => {
      const alice = await member('alice', 'lobby');
      const bob = await member('bob', 'lobby');

      alice.send(chat('alice', content));

      expect(await alice.next('chat_message')).toEqual(chatFrame('alice', 'lobby', content));
      expect(await bob.next('chat_message')).toEqual(chatFrame('alice', 'lobby', content));
    });

    it('accepts content of exactly MAX_MESSAGE_LENGTH characters (default 10000)', async () => {
      const alice = await member('alice', 'lobby');
      const content = 'a'.repeat(10_000);

      expect(await alice.request(chat('alice', content), 'chat_message')).toEqual(
        chatFrame('alice', 'lobby', content),
      );
    });

    it('delivers 200 messages of one sender in the order they were sent', async () => {
      const alice = await member('alice', 'lobby');
      const bob = await member('bob', 'lobby');
      const sent = Array.from({ length: 200 }, (_, i) => `message ${i}`);

      for (const content of sent) alice.send(chat('alice', content));

      for (const receiver of [alice, bob]) {
        const received: unknown[] = [];
        for (let i = 0; i < sent.length; i++) {
          received.push((await receiver.next('chat_message')).content);
        }
        expect(received).toEqual(sent);
      }
    });

    it('keeps each sender’s order when two members send at once', async () => {
      const alice = await member('alice', 'lobby');
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'lobby');
      const count = 100;

      for (let i = 0; i < count; i++) {
        alice.send(chat('alice', `a${i}`));
        bob.send(chat('bob', `b${i}`));
      }

      const frames: Frame[] = [];
      for (let i = 0; i < 2 * count; i++) frames.push(await carol.next('chat_message'));
      const from = (userId: string) =>
        frames.filter((f) => f.userId === userId).map((f) => f.content);
      expect(from('alice')).toEqual(Array.from({ length: count }, (_, i) => `a${i}`));
      expect(from('bob')).toEqual(Array.from({ length: count }, (_, i) => `b${i}`));
    });
  });

  describe('switch_room', () => {
    it('tells the room left that the user left and the room entered that it joined', async () => {
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'games');
      const alice = await member('alice', 'lobby');
      await bob.next('user_joined');

      const reply = await alice.request(
        { type: 'switch_room', userId: 'alice', roomId: 'games' },
        'joined',
      );

      expect(reply).toEqual(joinedFrame('alice', 'games'));
      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'lobby'));
      expect(await carol.next('user_joined')).toEqual(userJoinedFrame('alice', 'games'));
    });

    it('moves the connection: it chats in the new room and no longer hears the old one', async () => {
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'games');
      const alice = await member('alice', 'lobby');
      await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }, 'joined');

      alice.send(chat('alice', 'hi games'));
      expect(await alice.next('chat_message')).toEqual(chatFrame('alice', 'games', 'hi games'));
      expect(await carol.next('chat_message')).toEqual(chatFrame('alice', 'games', 'hi games'));

      bob.send(chat('bob', 'anyone in lobby?'));
      expect(await bob.next('chat_message')).toEqual(chatFrame('bob', 'lobby', 'anyone in lobby?'));
      await marker(carol, 'carol', [alice, carol]);
      expect(alice.unread()).toEqual([]);
      expect(bob.unread('chat_message')).toEqual([]);
    });

    it('does not tell the user who switches that it left or joined', async () => {
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'games');
      const alice = await member('alice', 'lobby');

      await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }, 'joined');

      await marker(alice, 'alice', [alice, carol]);
      expect(alice.unread()).toEqual([]);
      await bob.next('user_left');
    });

    it('deletes the room it left when no member is left there', async () => {
      const alice = await member('alice', 'lobby');
      const bob = await member('bob', 'games');
      expect(await chatCounts()).toEqual({ connections: 2, rooms: 2 });

      await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }, 'joined');

      expect(await chatCounts()).toEqual({ connections: 2, rooms: 1 });
      await bob.request({ type: 'switch_room', userId: 'bob', roomId: 'arcade' }, 'joined');
      expect(await chatCounts()).toEqual({ connections: 2, rooms: 2 });
    });

    it('keeps the room it left while other members remain', async () => {
      await member('bob', 'lobby');
      const alice = await member('alice', 'lobby');

      await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }, 'joined');

      expect(await chatCounts()).toEqual({ connections: 2, rooms: 2 });
    });

    it('with no current room is a join', async () => {
      const bob = await member('bob', 'games');
      const alice = await connect();

      const reply = await alice.request(
        { type: 'switch_room', userId: 'alice', roomId: 'games' },
        'joined',
      );

      expect(reply).toEqual(joinedFrame('alice', 'games'));
      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', 'games'));
      await marker(alice, 'alice', [alice, bob]);
      expect(alice.unread()).toEqual([]);
      expect(bob.unread()).toEqual([]);
    });

    it('to the room the connection is already in only replies joined', async () => {
      const bob = await member('bob', 'lobby');
      const alice = await member('alice', 'lobby');
      await bob.next('user_joined');

      const reply = await alice.request(
        { type: 'switch_room', userId: 'alice', roomId: 'lobby' },
        'joined',
      );

      expect(reply).toEqual(joinedFrame('alice', 'lobby'));
      await marker(alice, 'alice', [alice, bob]);
      expect(bob.unread()).toEqual([]);
      expect(alice.unread()).toEqual([]);
    });

    it('applies a burst of switches in order, ending in the last room', async () => {
      const bob = await member('bob', 'r3');
      const alice = await member('alice', 'r0');

      for (const roomId of ['r1', 'r2', 'r3']) {
        alice.send({ type: 'switch_room', userId: 'alice', roomId });
      }

      for (const roomId of ['r1', 'r2', 'r3']) {
        expect(await alice.next('joined')).toEqual(joinedFrame('alice', roomId));
      }
      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', 'r3'));
      expect(await chatCounts()).toEqual({ connections: 2, rooms: 1 });
    });
  });

  describe('closing a connection', () => {
    it('tells the members left in the room that the user left', async () => {
      const bob = await member('bob', 'lobby');
      const alice = await member('alice', 'lobby');

      await alice.close();

      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'lobby'));
    });

    it('without a closing handshake still leaves the room', async () => {
      const bob = await member('bob', 'lobby');
      const alice = await member('alice', 'lobby');

      alice.terminate();

      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'lobby'));
    });

    it('deletes the room when its last member closes', async () => {
      const alice = await member('alice', 'lobby');
      const bob = await member('bob', 'lobby');
      expect(await chatCounts()).toEqual({ connections: 2, rooms: 1 });

      await alice.close();
      await bob.next('user_left');
      expect(await chatCounts()).toEqual({ connections: 1, rooms: 1 });
      await bob.close();

      expect(await countsUntil((c) => c.connections === 0 && c.rooms === 0)).toEqual({
        connections: 0,
        rooms: 0,
      });
    });

    it('of a connection that never joined tells nobody anything', async () => {
      const bob = await member('bob', 'lobby');
      const idle = await connect();

      await idle.close();
      await countsUntil((c) => c.connections === 1);

      await marker(bob, 'bob', [bob]);
      expect(bob.unread()).toEqual([]);
    });
  });

  describe('a user with several connections', () => {
    it('is announced with user_joined only when its first connection enters', async () => {
      const bob = await member('bob', 'lobby');
      const alice1 = await member('alice', 'lobby');
      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', 'lobby'));

      const alice2 = await member('alice', 'lobby');

      await marker(alice2, 'alice', [alice1, alice2, bob]);
      expect(bob.unread()).toEqual([]);
      expect(alice1.unread()).toEqual([]);
      expect(alice2.unread()).toEqual([]);
    });

    it('is announced once when two of its connections join at the same moment', async () => {
      const bob = await member('bob', 'lobby');
      const alice1 = await connect();
      const alice2 = await connect();

      alice1.send(join('alice', 'lobby'));
      alice2.send(join('alice', 'lobby'));
      await Promise.all([alice1.next('joined'), alice2.next('joined')]);

      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', 'lobby'));
      await marker(alice1, 'alice', [alice1, alice2, bob]);
      expect(bob.unread()).toEqual([]);
    });

    it('is announced with user_left only when its last connection closes', async () => {
      const bob = await member('bob', 'lobby');
      const alice1 = await member('alice', 'lobby');
      const alice2 = await member('alice', 'lobby');
      await bob.next('user_joined');

      await alice1.close();
      await countsUntil((c) => c.connections === 2);

      await marker(alice2, 'alice', [alice2, bob]);
      expect(bob.unread()).toEqual([]);

      await alice2.close();
      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'lobby'));
      await marker(bob, 'bob', [bob]);
      expect(bob.unread()).toEqual([]);
    });

    it('is announced with user_left only when its last connection switches away', async () => {
      const bob = await member('bob', 'lobby');
      const alice1 = await member('alice', 'lobby');
      const alice2 = await member('alice', 'lobby');
      await bob.next('user_joined');

      await alice1.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }, 'joined');
      await marker(alice2, 'alice', [alice2, bob]);
      expect(bob.unread()).toEqual([]);

      await alice2.request({ type: 'switch_room', userId: 'alice', roomId: 'games' }, 'joined');
      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'lobby'));
    });

    it('delivers every chat message to all of the user’s connections in the room', async () => {
      const alice1 = await member('alice', 'lobby');
      const alice2 = await member('alice', 'lobby');
      const bob = await member('bob', 'lobby');

      bob.send(chat('bob', 'hi alice'));
      for (const client of [alice1, alice2, bob]) {
        expect(await client.next('chat_message')).toEqual(chatFrame('bob', 'lobby', 'hi alice'));
      }

      alice1.send(chat('alice', 'from my laptop'));
      for (const client of [alice1, alice2, bob]) {
        expect(await client.next('chat_message')).toEqual(
          chatFrame('alice', 'lobby', 'from my laptop'),
        );
      }
    });

    it('counts presence per room: leaving one room is announced there while another stays', async () => {
      const bob = await member('bob', 'lobby');
      const carol = await member('carol', 'games');
      const aliceInLobby = await member('alice', 'lobby');
      const aliceInGames = await member('alice', 'games');
      await bob.next('user_joined');
      await carol.next('user_joined');

      await aliceInLobby.close();

      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', 'lobby'));
      await marker(aliceInGames, 'alice', [aliceInGames, carol]);
      expect(carol.unread()).toEqual([]);
    });
  });

  describe('room isolation', () => {
    it('a member of another room receives nothing of this room', async () => {
      const bob = await member('bob', 'b');
      const alice = await member('alice', 'a');

      const carol = await member('carol', 'a');
      alice.send(chat('alice', 'only for room a'));
      await carol.next(isChat('only for room a'));
      await carol.close();
      await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'a2' }, 'joined');

      await marker(bob, 'bob', [bob]);
      expect(bob.unread()).toEqual([]);
    });

    it('rooms whose names differ only in case are different rooms', async () => {
      const upper = await member('bob', 'Lobby');
      const lower = await member('alice', 'lobby');

      await marker(lower, 'alice', [lower]);
      await marker(upper, 'bob', [upper]);
      expect(upper.unread()).toEqual([]);
      expect(lower.unread()).toEqual([]);
    });
  });

  describe('rooms and users with reserved JavaScript names', () => {
    const reserved = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

    it.each(reserved)('a room named %s works like any other room', async (roomId) => {
      const bob = await member('bob', roomId);
      const alice = await connect();

      expect(await alice.request(join('alice', roomId), 'joined')).toEqual(
        joinedFrame('alice', roomId),
      );
      expect(await bob.next('user_joined')).toEqual(userJoinedFrame('alice', roomId));
      alice.send(chat('alice', `hello ${roomId}`));
      expect(await bob.next('chat_message')).toEqual(chatFrame('alice', roomId, `hello ${roomId}`));
      expect(await alice.next('chat_message')).toEqual(
        chatFrame('alice', roomId, `hello ${roomId}`),
      );
      await alice.request({ type: 'switch_room', userId: 'alice', roomId: 'plain' }, 'joined');
      expect(await bob.next('user_left')).toEqual(userLeftFrame('alice', roomId));
      await bob.close();
      expect(await countsUntil((c) => c.rooms === 1)).toEqual({ connections: 1, rooms: 1 });
    });

    it.each(reserved)('a user named %s works like any other user', async (userId) => {
      const bob = await member('bob', 'lobby');
      const client = await member(userId, 'lobby');

      expect(await bob.next('user_joined')).toEqual(userJoinedFrame(userId, 'lobby'));
      expect(await client.request(chat(userId, 'hi'), 'chat_message')).toEqual(
        chatFrame(userId, 'lobby', 'hi'),
      );
      await client.close();
      expect(await bob.next('user_left')).toEqual(userLeftFrame(userId, 'lobby'));
    });

    it('rooms named __proto__ and constructor are separate from each other and from others', async () => {
      const inProto = await member('alice', '__proto__');
      const inConstructor = await member('bob', 'constructor');
      const inPlain = await member('carol', 'lobby');

      await marker(inProto, 'alice', [inProto]);
      await marker(inConstructor, 'bob', [inConstructor]);
      await marker(inPlain, 'carol', [inPlain]);

      for (const client of [inProto, inConstructor, inPlain]) expect(client.unread()).toEqual([]);
      expect(await chatCounts()).toEqual({ connections: 3, rooms: 3 });
    });
  });
});
