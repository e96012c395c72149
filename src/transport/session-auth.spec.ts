import { recordedSession } from '../../test/support/recording-socket';
import type { Session, SessionAuthHooks } from './session';

/** Resolves once everything queued on `session` so far has run. */
const settled = (session: Session): Promise<void> =>
  new Promise((resolve) => session.enqueue(resolve));

/** A session awaiting its first frame, with hooks that record what they were handed. */
function awaitingSession(accept: boolean) {
  const firstFrames: (string | undefined)[] = [];
  const refreshes: unknown[] = [];
  const auth: SessionAuthHooks = {
    firstFrame: (session, text) => {
      firstFrames.push(text);
      if (accept) session.principal = { userId: 'alice', expiresAt: 1, claims: {} };
      else session.evict(1008, 'authentication failed');
      return Promise.resolve();
    },
    refresh: (_session, data) => {
      refreshes.push(data);
      return Promise.resolve();
    },
  };
  const { session, socket } = recordedSession(undefined, { auth });
  const handled: unknown[] = [];
  session.bind([
    {
      message: 'join',
      isAckHandledManually: false,
      callback: (data: unknown) => {
        handled.push(data);
        return Promise.resolve();
      },
    },
  ]);
  session.bind([
    { message: 'refresh', isAckHandledManually: false, callback: () => Promise.resolve() },
  ]);
  session.awaitingAuth = true;
  return { session, socket, firstFrames, refreshes, handled };
}

describe('Session authentication', () => {
  it('hands its first frame to authentication, never to a handler', async () => {
    const { session, socket, firstFrames, handled } = awaitingSession(true);
    socket.receive(JSON.stringify({ type: 'join', userId: 'alice' }));
    await settled(session);
    expect(firstFrames).toEqual(['{"type":"join","userId":"alice"}']);
    expect(handled).toEqual([]);
  });

  it('handles nothing sent behind a first frame that fails', async () => {
    const { session, socket, handled } = awaitingSession(false);
    socket.receive('Bearer bad');
    socket.receive(JSON.stringify({ type: 'join', userId: 'alice' }));
    await settled(session);
    expect(handled).toEqual([]);
  });

  it('fills in the token’s userId once authenticated, and refuses another user’s', async () => {
    const { session, socket, handled } = awaitingSession(true);
    socket.receive('Bearer good');
    socket.receive(JSON.stringify({ type: 'join', roomId: 'lobby' }));
    socket.receive(JSON.stringify({ type: 'join', userId: 'bob' }));
    await settled(session);
    expect(handled).toEqual([{ roomId: 'lobby', userId: 'alice' }]);
    expect(socket.sent).toEqual([expect.objectContaining({ code: 'user_mismatch' })]);
  });

  it('routes refresh to authentication on any path', async () => {
    const { session, socket, refreshes } = awaitingSession(true);
    socket.receive('Bearer good');
    socket.receive(JSON.stringify({ type: 'refresh', token: 't' }));
    await settled(session);
    expect(refreshes).toEqual([{ token: 't' }]);
  });
});
