import type { JWTPayload } from 'jose';
import { errorFrame } from './support/expected-frames';
import { nowSeconds, signToken, TEST_SECRET } from './support/jwt-fixtures';
import { refusedUpgradeStatus } from './support/test-client';
import { useApp } from './support/use-app';

/*
 * Loose ends of the token, end to end: lifetimes beyond JWT_MAX_LIFETIME_S and `iat`s in the
 * future are refused at the handshake and as a first frame, and without a `rooms` claim a user
 * may enter no other user's own room unless AUTH_DEFAULT_ROOMS opens it.
 */

const withToken = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('token lifetimes', () => {
  const fixture = useApp({ AUTH_MODE: 'jwt', JWT_SECRET: TEST_SECRET });
  const cases: [string, JWTPayload, number | null][] = [
    ['exp: 1e300', { sub: 'alice', exp: 1e300 }, null],
    ['a week after iat', { sub: 'alice', iat: nowSeconds() }, 7 * 86_400],
    ['iat an hour ahead', { sub: 'alice', iat: nowSeconds() + 3_600 }, 7_200],
  ];

  it.each(cases)(
    'refuses a token with %s at the handshake and as a first frame',
    async (_, claims, ttl) => {
      const token = await signToken(claims, TEST_SECRET, { expiresIn: ttl });
      expect(await refusedUpgradeStatus(`${fixture.app.wsUrl}/ws`, withToken(token))).toBe(401);
      const client = await fixture.connect('/');
      client.send(`Bearer ${token}`);
      expect(await client.closed).toMatchObject({ code: 1008, reason: 'authentication failed' });
    },
  );

  it('accepts a token of a day, issued now', async () => {
    const token = await signToken({ sub: 'alice', iat: nowSeconds() }, TEST_SECRET, {
      expiresIn: 86_400,
    });
    const client = await fixture.connect('/ws', withToken(token));
    expect(await client.next('auth')).toMatchObject({ status: 'ok', userId: 'alice' });
  });
});

describe('default rooms', () => {
  const fixture = useApp({ AUTH_MODE: 'jwt', JWT_SECRET: TEST_SECRET }, { per: 'test' });
  const as = async (sub: string, claims: JWTPayload = {}) => {
    const client = await fixture.connect(
      '/ws',
      withToken(await signToken({ sub, ...claims }, TEST_SECRET)),
    );
    await client.next('auth');
    return client;
  };

  it("keeps a user without a rooms claim out of another user's own room by default", async () => {
    await fixture.start();
    const alice = await as('alice');
    expect(await alice.request({ type: 'join', roomId: 'bob' })).toEqual(errorFrame('forbidden'));
    expect(await alice.request({ type: 'join', roomId: 'lobby' })).toEqual(errorFrame('forbidden'));
    expect(await alice.request({ type: 'join' }, 'joined')).toMatchObject({ roomId: 'alice' });
  });

  it('lets a rooms claim decide when present', async () => {
    await fixture.start();
    const alice = await as('alice', { rooms: ['team:*'] });
    expect(await alice.request({ type: 'join', roomId: 'team:1' }, 'joined')).toMatchObject({
      roomId: 'team:1',
    });
    expect(await alice.request({ type: 'join', roomId: 'bob' })).toEqual(errorFrame('forbidden'));
  });

  it('opens what AUTH_DEFAULT_ROOMS names', async () => {
    await fixture.start({ AUTH_DEFAULT_ROOMS: 'lobby,team:*' });
    const alice = await as('alice');
    expect(await alice.request({ type: 'join', roomId: 'lobby' }, 'joined')).toMatchObject({
      roomId: 'lobby',
    });
    expect(await alice.request({ type: 'join', roomId: 'bob' })).toEqual(errorFrame('forbidden'));
  });
});
