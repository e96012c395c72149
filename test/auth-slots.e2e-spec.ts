import { signToken, TEST_SECRET } from './support/jwt-fixtures';
import { refusedUpgradeStatus, TestClient } from './support/test-client';
import { useApp } from './support/use-app';

/*
 * Sockets that have not authenticated have a pool of their own (MAX_UNAUTHENTICATED): silent
 * sockets filling it never lock out a user who brings a token, and never take MAX_CONNECTIONS.
 */

describe('the unauthenticated pool', () => {
  const fixture = useApp(
    {
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      MAX_CONNECTIONS: 3,
      MAX_UNAUTHENTICATED: 4,
      MAX_UNAUTHENTICATED_PER_IP: 4,
      AUTH_TIMEOUT_MS: 30_000,
    },
    { per: 'test' },
  );
  const bearer = async (sub: string) => ({
    headers: { authorization: `Bearer ${await signToken({ sub }, TEST_SECRET)}` },
  });
  const silent = async (count: number): Promise<TestClient[]> => {
    const sockets: TestClient[] = [];
    for (let i = 0; i < count; i++) sockets.push(await fixture.connect('/'));
    return sockets;
  };

  it('refuses a socket without a token (503) once MAX_UNAUTHENTICATED are waiting', async () => {
    await fixture.start();
    await silent(4);
    expect(await refusedUpgradeStatus(`${fixture.app.wsUrl}/`)).toBe(503);
  });

  it('lets users with a token take every MAX_CONNECTIONS slot while the pool is full', async () => {
    await fixture.start();
    await silent(4);
    for (const sub of ['alice', 'bob', 'carol']) {
      const user = await fixture.connect('/ws', await bearer(sub));
      expect(await user.next('auth')).toMatchObject({ status: 'ok', userId: sub });
    }
    expect(await refusedUpgradeStatus(`${fixture.app.wsUrl}/ws`, await bearer('dave'))).toBe(503);
  });

  it('frees the unauthenticated slot of a first-frame login and closes it 1013 when users are full', async () => {
    await fixture.start();
    const [waiting, late] = await silent(2);
    waiting.send(`Bearer ${await signToken({ sub: 'erin' }, TEST_SECRET)}`);
    await waiting.next('auth');
    await silent(3);
    expect(await refusedUpgradeStatus(`${fixture.app.wsUrl}/`)).toBe(503);
    for (const sub of ['alice', 'bob'])
      await (await fixture.connect('/ws', await bearer(sub))).next('auth');
    late.send(`Bearer ${await signToken({ sub: 'frank' }, TEST_SECRET)}`);
    expect(await late.closed).toMatchObject({ code: 1013, reason: 'server full' });
  });

  it('gives one address at most MAX_UNAUTHENTICATED_PER_IP of the pool: a first-frame login from another gets in', async () => {
    await fixture.start({ MAX_UNAUTHENTICATED_PER_IP: 2 });
    const from = (localAddress: string) => ({ localAddress });
    for (let i = 0; i < 2; i++) await fixture.connect('/', from('127.0.0.2'));
    expect(await refusedUpgradeStatus(`${fixture.app.wsUrl}/`, from('127.0.0.2'))).toBe(429);
    const user = await fixture.connect('/', from('127.0.0.3'));
    user.send(`Bearer ${await signToken({ sub: 'grace' }, TEST_SECRET)}`);
    expect(await user.next('auth')).toMatchObject({ status: 'ok', userId: 'grace' });
  });

  it('gives the slot back when a silent socket times out', async () => {
    await fixture.start({ AUTH_TIMEOUT_MS: 200, MAX_UNAUTHENTICATED: 1 });
    const [first] = await silent(1);
    expect(await first.closed).toMatchObject({ code: 1008, reason: 'authentication timeout' });
    await silent(1);
  });
});
