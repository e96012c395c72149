import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import {
  publicJwk,
  signToken,
  TEST_SECRET,
  TestKeyPair,
  testKeyPair,
} from '../../test/support/jwt-fixtures';
import { configWith } from '../config/load-config';
import { AuthError } from './auth-error';
import type { KeySourceOptions } from './key-source';
import { TokenVerifier } from './token-verifier';

/** A JWKS endpoint on 127.0.0.1 whose key set the test replaces, counting the fetches. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  private readonly server: Server = createServer((_request, response) => {
    this.fetches++;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: this.keys }));
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

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
  });

  const verifier = (options?: KeySourceOptions): TokenVerifier =>
    new TokenVerifier(configWith({ AUTH_MODE: 'jwt', JWT_JWKS_URL: url }), options);
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
});
