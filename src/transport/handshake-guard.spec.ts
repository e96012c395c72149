import type { IncomingMessage } from 'node:http';
import { configWith } from '../config/load-config';
import { HandshakeGuard } from './handshake-guard';

const request = (address: string): IncomingMessage =>
  ({ headers: {}, socket: { remoteAddress: address } }) as unknown as IncomingMessage;

describe('HandshakeGuard pools', () => {
  const guard = (): HandshakeGuard =>
    new HandshakeGuard(configWith({ MAX_CONNECTIONS: 2, MAX_UNAUTHENTICATED: 1 }));

  it('counts unauthenticated sockets apart from MAX_CONNECTIONS', () => {
    const admission = guard();
    expect(admission.admit(request('10.0.0.1'), 'unauthenticated')).toMatchObject({
      admitted: true,
    });
    expect(admission.admit(request('10.0.0.2'), 'unauthenticated')).toEqual({
      admitted: false,
      status: 503,
    });
    expect(admission.admit(request('10.0.0.3'))).toMatchObject({ admitted: true });
    expect(admission.admit(request('10.0.0.4'))).toMatchObject({ admitted: true });
    expect(admission.admit(request('10.0.0.5'))).toEqual({ admitted: false, status: 503 });
    expect([admission.openCount, admission.unauthenticatedCount]).toEqual([2, 1]);
  });

  it('promotes into the users pool only while it has room, freeing the unauthenticated slot', () => {
    const admission = guard();
    admission.admit(request('10.0.0.1'), 'unauthenticated');
    expect(admission.promote('10.0.0.1')).toBe(true);
    expect([admission.openCount, admission.unauthenticatedCount]).toEqual([1, 0]);
    admission.admit(request('10.0.0.2'), 'unauthenticated');
    admission.admit(request('10.0.0.3'));
    expect(admission.promote('10.0.0.2')).toBe(false);
    expect([admission.openCount, admission.unauthenticatedCount]).toEqual([2, 1]);
  });

  it('gives one address at most MAX_UNAUTHENTICATED_PER_IP of the unauthenticated pool', () => {
    const admission = new HandshakeGuard(
      configWith({ MAX_UNAUTHENTICATED: 10, MAX_UNAUTHENTICATED_PER_IP: 2 }),
    );
    const attacker = request('10.0.0.1');
    expect(admission.admit(attacker, 'unauthenticated')).toMatchObject({ admitted: true });
    expect(admission.admit(attacker, 'unauthenticated')).toMatchObject({ admitted: true });
    expect(admission.admit(attacker, 'unauthenticated')).toEqual({ admitted: false, status: 429 });
    // Another address still gets in, and so does the same one once a socket left or logged in.
    expect(admission.admit(request('10.0.0.2'), 'unauthenticated')).toMatchObject({
      admitted: true,
    });
    admission.release('10.0.0.1', 'unauthenticated');
    expect(admission.promote('10.0.0.1')).toBe(true);
    expect(admission.admit(attacker, 'unauthenticated')).toMatchObject({ admitted: true });
    expect(admission.admit(attacker, 'unauthenticated')).toMatchObject({ admitted: true });
    expect(admission.admit(attacker, 'unauthenticated')).toEqual({ admitted: false, status: 429 });
    // A user with a token at the handshake is not held to the share.
    expect(admission.admit(attacker)).toMatchObject({ admitted: true });
  });

  it('releases from the pool it is told', () => {
    const admission = guard();
    admission.admit(request('10.0.0.1'), 'unauthenticated');
    admission.admit(request('10.0.0.2'));
    admission.release('10.0.0.1', 'unauthenticated');
    expect([admission.openCount, admission.unauthenticatedCount]).toEqual([1, 0]);
    admission.release('10.0.0.2', 'user');
    expect([admission.openCount, admission.unauthenticatedCount]).toEqual([0, 0]);
  });
});
