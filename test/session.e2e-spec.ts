import { eventually } from './support/eventually';
import { PROTOCOL_TEST_LIMITS } from './support/test-app';
import { Frame, TestClient } from './support/test-client';
import { chatFrame, isChat, userJoinedFrame, userLeftFrame } from './support/expected-frames';
import { EchoExtensionModule, EchoGate } from './support/echo-extension';
import { SessionRegistry } from '../src/transport/session-registry';
import type { Session } from '../src/transport/session';
import type { AppConfig } from '../src/config/app-config';
import { useApp } from './support/use-app';

/*
 * The per-connection session end to end: one bounded inbound queue (a flood behind a slow handler
 * pauses the socket instead of queueing without limit, and loses nothing), frames a client sent
 * before its own close all handled before it leaves, and a server eviction that stops hearing the
 * client at once.
 */

const WAIT_MS = 10_000;
/** The most bytes `ws` is handed per socket read (libuv reads up to 64 KiB at a time). */
const READ_BYTES = 65_536;

const chat = (userId: string, content: string) => ({ type: 'chat_message', userId, content });

describe('session', () => {
  const fixture = useApp(PROTOCOL_TEST_LIMITS, { per: 'test' });
  const running = () => fixture.app;
  const member = (userId: string, roomId: string) => fixture.member(userId, roomId);

  function start(overrides: Partial<AppConfig>, imports: [typeof EchoExtensionModule] | [] = []) {
    return fixture.start(overrides, { imports });
  }

  function sessionOf(userId: string): Session {
    const session = [...running().app.get(SessionRegistry)].find((s) => s.userId === userId);
    if (!session) throw new Error(`no session of ${userId}`);
    return session;
  }

  describe('bounded inbound queue', () => {
    const MAX_INBOUND_QUEUE = 8;
    const FRAMES = 256;
    const CHAT_EVERY = 16;
    const filler = 'x'.repeat(16_000);

    it('pauses a client flooding a slow handler at MAX_INBOUND_QUEUE, then handles every frame in order', async () => {
      await start({ MAX_INBOUND_QUEUE }, [EchoExtensionModule]);
      const gate = running().app.get(EchoGate);
      const listener = await member('listener', 'lobby');
      const flooder = await member('flooder', 'lobby');
      await listener.next('user_joined');
      const session = sessionOf('flooder');

      // The echo handler waits at the gate: the first frame holds the queue, the rest wait.
      gate.close();
      const expected: unknown[] = [];
      const chats: string[] = [];
      for (let seq = 0; seq < FRAMES; seq++) {
        flooder.send({ type: 'echo', seq, text: filler });
        expected.push({ type: 'echo', seq });
        if (seq % CHAT_EVERY === 0) {
          flooder.send(chat('flooder', `chat ${seq}`));
          expected.push(chatFrame('flooder', 'lobby', `chat ${seq}`));
          chats.push(`chat ${seq}`);
        }
      }
      // One socket read past the point of pausing may still arrive: its frames, one frame split
      // across reads, and a chat among them.
      const echoBytes = Buffer.byteLength(
        JSON.stringify({ type: 'echo', seq: FRAMES, text: filler }),
      );
      const bound = MAX_INBOUND_QUEUE + Math.ceil(READ_BYTES / echoBytes) + 2;

      await eventually('the socket to be paused', () => session.inbound.paused, {
        done: Boolean,
        timeoutMs: WAIT_MS,
      });
      // Health round trips turn the server's event loop with the flood waiting on its socket.
      for (let i = 0; i < 3; i++) await fetch(`${running().httpUrl}/health`);
      expect(gate.reached).toBe(1);
      expect(session.inbound.queued).toBeLessThanOrEqual(bound);
      expect(session.inbound.paused).toBe(true);

      gate.open();
      const received: Frame[] = [];
      for (let i = 0; i < expected.length; i++) received.push(await flooder.next());
      expect(received).toEqual(expected);
      for (const content of chats) {
        expect(await listener.next('chat_message')).toEqual(chatFrame('flooder', 'lobby', content));
      }

      expect(gate.reached).toBe(FRAMES);
      expect(session.inbound.peak).toBeLessThanOrEqual(bound);
      expect(session.inbound.peak).toBeGreaterThan(MAX_INBOUND_QUEUE);
      expect(session.inbound).toMatchObject({ queued: 0, paused: false });
    }, 60_000);
  });

  describe('close', () => {
    const CHATS = 20;
    const ROUNDS = 5;

    it(`handles a join and ${CHATS} chats sent with close(1000) at once, then leaves, in ${ROUNDS} rounds`, async () => {
      await start({});
      const listener = await member('listener', 'lobby');
      for (let round = 0; round < ROUNDS; round++) {
        const userId = `sender${round}`;
        const sender = await TestClient.connect(running().wsUrl);
        const contents = Array.from({ length: CHATS }, (_, i) => `round ${round} chat ${i}`);
        sender.send({ type: 'join', userId, roomId: 'lobby' });
        for (const content of contents) sender.send(chat(userId, content));
        sender.socket.close(1000);

        const received: Frame[] = [];
        for (let i = 0; i < CHATS + 2; i++) received.push(await listener.next());
        expect(received).toEqual([
          userJoinedFrame(userId, 'lobby'),
          ...contents.map((content) => chatFrame(userId, 'lobby', content)),
          userLeftFrame(userId, 'lobby'),
        ]);
        expect(await sender.closed).toEqual({ code: 1000, reason: '' });
      }
    });

    it('stops hearing a client the server evicts at once: frames after the eviction are dropped', async () => {
      await start({ ABUSE_ERRORS_MAX: 2 });
      const listener = await member('listener', 'lobby');
      const abuser = await member('abuser', 'lobby');
      await listener.next('user_joined');

      for (let i = 0; i < 3; i++) abuser.send('{bad json');
      for (let i = 0; i < 5; i++) abuser.send(chat('abuser', `after eviction ${i}`));

      expect(await abuser.closed).toEqual({ code: 1008, reason: 'too many errors' });
      expect(await listener.next('user_left')).toEqual(userLeftFrame('abuser', 'lobby'));
      // A marker of the listener's own: anything the abuser got through would be in before it.
      await listener.request(chat('listener', 'marker'), isChat('marker'));
      expect(listener.unread('chat_message')).toEqual([]);
    });
  });
});
