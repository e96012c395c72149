import type { WebSocket } from 'ws';
import { RecordingSocket } from '../../test/support/recording-socket';
import { InMemoryUserConnections } from '../auth/in-memory-user-connections';
import { TokenVerifier } from '../auth/token-verifier';
import { loadConfig } from '../config/load-config';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { ClientMessageType } from '../protocol/chat.protocol';
import { HandshakeGuard } from './handshake-guard';
import type { Session } from './session';
import { SessionAuthenticator } from './session-authenticator';
import { SessionRegistry } from './session-registry';

function registry(): SessionRegistry {
  const config = loadConfig({});
  const auth = new SessionAuthenticator(
    config,
    new TokenVerifier(config),
    new InMemoryUserConnections(),
  );
  return new SessionRegistry(config, new ShutdownState(), new HandshakeGuard(config), auth);
}

function open(sessions: SessionRegistry): { session: Session; socket: RecordingSocket } {
  const socket = new RecordingSocket();
  const types = new Set<string>([ClientMessageType.Join]);
  const session = sessions.open(socket as unknown as WebSocket, '127.0.0.1', types);
  return { session, socket };
}

describe('SessionRegistry.sessionsOf', () => {
  let sessions: SessionRegistry;

  beforeEach(() => (sessions = registry()));
  afterEach(() => sessions.beforeApplicationShutdown());

  it('finds the one session of a user among 20,000 touching no other session', () => {
    const all: Session[] = [];
    for (let i = 0; i < 20_000; i += 1) {
      const { session } = open(sessions);
      session.userId = `user-${i}`;
      all.push(session);
    }
    // A scan would ask sessions who they are: count every such question.
    const prototype = Object.getPrototypeOf(all[0]) as Session;
    const asked = [
      jest.spyOn(prototype, 'user', 'get'),
      jest.spyOn(prototype, 'userId', 'get'),
      jest.spyOn(prototype, 'principal', 'get'),
    ];

    const found = sessions.sessionsOf('user-12345');

    expect(found).toEqual([all[12345]]);
    expect(asked.map((spy) => spy.mock.calls.length)).toEqual([0, 0, 0]);
    for (const spy of asked) spy.mockRestore();
  });

  it('follows a session from user to user and forgets it once closed', () => {
    const { session, socket } = open(sessions);
    const other = open(sessions).session;
    session.userId = 'ann';
    other.userId = 'ann';
    expect(sessions.sessionsOf('ann')).toHaveLength(2);

    session.userId = 'bob';
    expect(sessions.sessionsOf('ann')).toEqual([other]);
    expect(sessions.sessionsOf('bob')).toEqual([session]);

    socket.close();
    expect(sessions.sessionsOf('bob')).toEqual([]);
    expect(sessions.sessionsOf('nobody')).toEqual([]);
  });
});
