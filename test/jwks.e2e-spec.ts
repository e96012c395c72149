import { publicJwk, signToken, TestKeyPair, testKeyPair } from './support/jwt-fixtures';
import { JwksServer } from '../scripts/lib/jwks-server';
import { eventually } from './support/eventually';
import { refusedUpgradeStatus } from './support/test-client';
import { useApp } from './support/use-app';

/*
 * The key set fails safe, end to end: the real app, a real JWKS HTTP server steered by the test
 * (stalling body, oversized body, 500s, unknown kids, issuer gone after the first fetch) and real
 * logins at the handshake, counting the fetches the server makes.
 */

interface Readiness {
  status: number;
  jwks?: { status: string; keys?: string; lastError?: string };
}

describe('the JWKS key source', () => {
  const jwks = new JwksServer();
  let jwksUrl: string;
  let pair: TestKeyPair;
  const fixture = useApp({}, { per: 'test' });

  beforeAll(async () => {
    jwksUrl = await jwks.start();
    pair = await testKeyPair('ES256');
  });
  afterAll(() => jwks.stop());
  beforeEach(async () => {
    jwks.keys = [await publicJwk(pair, 'key-1')];
    jwks.mode = 'ok';
    jwks.fetches = 0;
  });

  const start = (settings: Record<string, number> = {}) =>
    fixture.start({ AUTH_MODE: 'jwt', JWT_JWKS_URL: jwksUrl, ...settings });
  const token = (sub: string, kid = 'key-1') =>
    signToken({ sub }, pair.privateKey, { alg: 'ES256', kid });
  const login = async (sub: string, kid?: string) => {
    const bearer = { authorization: `Bearer ${await token(sub, kid)}` };
    const client = await fixture.connect('/ws', { headers: bearer });
    await client.next('auth');
    return client;
  };
  const refused = async (sub: string, kid?: string) =>
    refusedUpgradeStatus(`${fixture.app.wsUrl}/ws`, {
      headers: { authorization: `Bearer ${await token(sub, kid)}` },
    });
  const readiness = async (): Promise<Readiness> => {
    const response = await fetch(`${fixture.app.httpUrl}/health/ready`);
    const body = (await response.json()) as { details?: { jwks?: Readiness['jwks'] } };
    return { status: response.status, jwks: body.details?.jwks };
  };

  it('refuses logins (401) when the key set stalls after its headers, and is not ready', async () => {
    jwks.mode = 'stall';
    await start({ JWT_JWKS_TIMEOUT_MS: 300 });
    expect(await refused('alice')).toBe(401);
    expect(await readiness()).toMatchObject({ status: 503, jwks: { keys: 'none' } });
    jwks.mode = 'ok';
  });

  it('abandons a key set over JWT_JWKS_MAX_BYTES mid-stream', async () => {
    jwks.mode = 'huge';
    jwks.hugeBytes = 256 * 1024 * 1024;
    await start({ JWT_JWKS_MAX_BYTES: 256 * 1024 });
    expect(await refused('alice')).toBe(401);
    expect(jwks.hugeWritten).toBeLessThan(jwks.hugeBytes / 4);
  });

  it('fetches once while the issuer answers 500, for 100 logins and the readiness probe', async () => {
    jwks.mode = 'error';
    await start();
    const statuses = await Promise.all(Array.from({ length: 100 }, (_, i) => refused(`u${i}`)));
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(await readiness()).toMatchObject({ status: 503, jwks: { keys: 'none' } });
    expect(jwks.fetches).toBe(1);
  });

  it('fetches once per cooldown for 100 logins with made-up kids', async () => {
    await start();
    await login('alice');
    for (let i = 0; i < 100; i++) expect(await refused('mallory', `made-up-${i}`)).toBe(401);
    await login('bob');
    expect(jwks.fetches).toBe(1);
  });

  it('keeps the keys it has while the issuer is down, and says so in readiness', async () => {
    await start({ JWT_JWKS_MAX_AGE_MS: 0, JWT_JWKS_COOLDOWN_MS: 0 });
    await login('alice');
    expect(await readiness()).toMatchObject({ status: 200 });
    jwks.mode = 'down';
    for (const sub of ['bob', 'carol', 'dave']) await login(sub);
    // The logins went on with the cached keys; the refetch they started fails in the background.
    const ready = await eventually('a failed refetch in readiness', readiness, {
      done: (answer) => typeof answer.jwks?.lastError === 'string',
    });
    expect(ready).toMatchObject({
      status: 200,
      jwks: { status: 'up', keys: 'stale', lastError: expect.any(String) },
    });
  });

  it('reports fresh keys once the first login fetched them', async () => {
    await start();
    await login('alice');
    expect(await readiness()).toMatchObject({ status: 200, jwks: { status: 'up', keys: 'fresh' } });
    expect(jwks.fetches).toBe(1);
  });
});
