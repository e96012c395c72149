import { setTimeout as delay } from 'node:timers/promises';
import {
  publicJwk,
  signToken,
  TEST_SECRET,
  TestKeyPair,
  testKeyPair,
} from '../../test/support/jwt-fixtures';
import { JwksServer } from '../../scripts/lib/jwks-server';
import { eventually } from '../../test/support/eventually';
import type { AppConfig } from '../config/app-config';
import { configWith } from '../config/load-config';
import { AuthError } from './auth-error';
import type { KeySourceOptions } from './key-source';
import { TokenVerifier } from './token-verifier';

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AuthError);
  return (error as AuthError).reason;
}

describe('TokenVerifier with JWT_JWKS_URL', () => {
  const jwks = new JwksServer();
  let url: string;
  let first: TestKeyPair;
  let second: TestKeyPair;

  beforeAll(async () => {
    url = await jwks.start();
    [first, second] = await Promise.all([testKeyPair('ES256'), testKeyPair('EdDSA')]);
  });
  afterAll(() => jwks.stop());
  beforeEach(async () => {
    jwks.keys = [await publicJwk(first, 'key-1')];
    jwks.fetches = 0;
    jwks.mode = 'ok';
  });

  const verifier = (options?: KeySourceOptions, config: Partial<AppConfig> = {}): TokenVerifier =>
    new TokenVerifier(configWith({ AUTH_MODE: 'jwt', JWT_JWKS_URL: url, ...config }), options);
  const tokenOf = (pair: TestKeyPair, kid: string, sub = 'alice'): Promise<string> =>
    signToken({ sub }, pair.privateKey, { alg: pair.alg, kid });

  it('fetches the key set on first use and verifies from the cache afterwards', async () => {
    const tokens = verifier();
    expect(jwks.fetches).toBe(0);
    for (const sub of ['alice', 'bob', 'carol']) {
      const principal = await tokens.verify(await tokenOf(first, 'key-1', sub));
      expect(principal.userId).toBe(sub);
    }
    expect(jwks.fetches).toBe(1);
  });

  it('fetches again for a new kid after a key rotation', async () => {
    const tokens = verifier({ jwksCooldownMs: 0 });
    await tokens.verify(await tokenOf(first, 'key-1'));
    jwks.keys = [await publicJwk(second, 'key-2')];
    await expect(tokens.verify(await tokenOf(second, 'key-2'))).resolves.toMatchObject({
      userId: 'alice',
    });
    expect(jwks.fetches).toBe(2);
  });

  it('lets every login of a rotated key wait for the one fetch in flight instead of refusing it', async () => {
    const tokens = verifier({ jwksCooldownMs: 200 });
    await tokens.verify(await tokenOf(first, 'key-1'));
    jwks.keys = [await publicJwk(first, 'key-1'), await publicJwk(second, 'key-2')];
    const rotated = await tokenOf(second, 'key-2');
    await delay(250); // the cooldown of the first fetch has passed: the first miss fetches
    const principals = await Promise.all(Array.from({ length: 10 }, () => tokens.verify(rotated)));
    expect(principals.map((principal) => principal.userId)).toEqual(Array(10).fill('alice'));
    expect(jwks.fetches).toBe(2);
  });

  it('does not refetch in a tight loop for unknown kids: at most once per cooldown', async () => {
    const tokens = verifier();
    await tokens.verify(await tokenOf(first, 'key-1'));
    const madeUp = await Promise.all(
      Array.from({ length: 25 }, (_, i) => tokenOf(first, `made-up-${i}`)),
    );
    for (const token of madeUp) expect(await reasonOf(tokens.verify(token))).toBe('unknown key');
    expect(jwks.fetches).toBe(1);
  });

  it('picks up a rotated key once the cooldown has passed, with one fetch for many tries', async () => {
    const tokens = verifier({ jwksCooldownMs: 300 });
    await tokens.verify(await tokenOf(first, 'key-1'));
    jwks.keys = [await publicJwk(first, 'key-1'), await publicJwk(second, 'key-2')];
    const rotated = await tokenOf(second, 'key-2');
    const deadline = Date.now() + 5_000;
    let tries = 0;
    for (;;) {
      tries++;
      const outcome = await tokens.verify(rotated).then(
        () => 'ok',
        (error: AuthError) => error.reason,
      );
      if (outcome === 'ok') break;
      expect(outcome).toBe('unknown key');
      if (Date.now() > deadline) throw new Error('the rotated key was never fetched');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(tries).toBeGreaterThan(1);
    expect(jwks.fetches).toBe(2);
  });

  it('refuses an HMAC token, whatever the key set holds', async () => {
    const tokens = verifier();
    const token = await signToken({ sub: 'alice' }, TEST_SECRET, { kid: 'key-1' });
    expect(await reasonOf(tokens.verify(token))).toBe('algorithm not allowed');
  });

  it('refuses a token signed by a key that is not in the set under a known kid', async () => {
    const tokens = verifier();
    const impostor = await testKeyPair('ES256');
    expect(await reasonOf(tokens.verify(await tokenOf(impostor, 'key-1')))).toBe('bad signature');
  });

  it('reports an unreachable key set as key unavailable', async () => {
    const gone = new JwksServer();
    const goneUrl = await gone.start();
    await gone.stop();
    const tokens = new TokenVerifier(configWith({ AUTH_MODE: 'jwt', JWT_JWKS_URL: goneUrl }));
    expect(await reasonOf(tokens.verify(await tokenOf(first, 'key-1')))).toBe('key unavailable');
  });

  it('gives up on a key set whose body stalls after the headers, within JWT_JWKS_TIMEOUT_MS', async () => {
    jwks.mode = 'stall';
    const tokens = verifier({}, { JWT_JWKS_TIMEOUT_MS: 300 });
    expect(await reasonOf(tokens.verify(await tokenOf(first, 'key-1')))).toBe('key unavailable');
    expect(tokens.keySetStatus()).toMatchObject({ state: 'none', lastError: expect.any(String) });
  });

  it('abandons a key set larger than JWT_JWKS_MAX_BYTES while it streams in', async () => {
    jwks.mode = 'huge';
    jwks.hugeBytes = 64 * 1024 * 1024;
    const tokens = verifier({}, { JWT_JWKS_MAX_BYTES: 64 * 1024 });
    expect(await reasonOf(tokens.verify(await tokenOf(first, 'key-1')))).toBe('key unavailable');
    expect(jwks.hugeWritten).toBeLessThan(jwks.hugeBytes);
  });

  it('fetches once per cooldown while the issuer answers 500, however many logins', async () => {
    jwks.mode = 'error';
    const tokens = verifier();
    const token = await tokenOf(first, 'key-1');
    const reasons = await Promise.all(
      Array.from({ length: 100 }, () => reasonOf(tokens.verify(token))),
    );
    for (const reason of reasons) expect(reason).toBe('key unavailable');
    for (let i = 0; i < 20; i++)
      expect(await reasonOf(tokens.verify(token))).toBe('key unavailable');
    expect(jwks.fetches).toBe(1);
  });

  it('keeps verifying with the keys it has while the issuer is down, up to JWT_JWKS_STALE_MS', async () => {
    const tokens = verifier({ jwksMaxAgeMs: 0, jwksCooldownMs: 0 });
    await tokens.verify(await tokenOf(first, 'key-1'));
    jwks.mode = 'down';
    for (const sub of ['bob', 'carol', 'dave']) {
      await expect(tokens.verify(await tokenOf(first, 'key-1', sub))).resolves.toMatchObject({
        userId: sub,
      });
    }
    expect(tokens.keySetStatus()?.state).toBe('stale');
    // The refetch the logins started fails in the background; the keys stay.
    await eventually('a failed refetch', () => tokens.keySetStatus()?.lastError);
    expect(tokens.keySetStatus()?.state).toBe('stale');
  });

  it('stops using a key set older than JWT_JWKS_STALE_MS that could not be fetched again', async () => {
    const tokens = verifier({ jwksMaxAgeMs: 0, jwksCooldownMs: 0 }, { JWT_JWKS_STALE_MS: 0 });
    await tokens.verify(await tokenOf(first, 'key-1'));
    jwks.mode = 'error';
    const token = await tokenOf(first, 'key-1');
    await eventually('the key set to age past JWT_JWKS_STALE_MS', () => {
      return tokens.keySetStatus()?.state === 'none';
    });
    expect(await reasonOf(tokens.verify(token))).toBe('key unavailable');
    expect(tokens.keySetStatus()?.state).toBe('none');
  });

  it('reports the key set as none before the first fetch and fresh after it', async () => {
    const tokens = verifier();
    expect(tokens.keySetStatus()).toEqual({ state: 'none' });
    await tokens.verify(await tokenOf(first, 'key-1'));
    expect(tokens.keySetStatus()).toMatchObject({ state: 'fresh', fetchedAt: expect.any(Number) });
  });
});
