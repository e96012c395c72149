import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import {
  nowSeconds,
  signToken,
  TEST_SECRET,
  TestKeyPair,
  testKeyPair,
  unsignedToken,
} from '../../test/support/jwt-fixtures';
import type { AppConfig } from '../config/app-config';
import { configWith } from '../config/load-config';
import { AuthError, AuthFailureReason } from './auth-error';
import { TokenVerifier } from './token-verifier';

// RSA key generation is slow; every RS*/PS* case shares one 2048-bit pair.
const rsaPair = testKeyPair('RS256');
const keyPairFor = (alg: string): Promise<TestKeyPair> =>
  /^(RS|PS)/.test(alg) ? rsaPair : testKeyPair(alg);

function verifier(overrides: Partial<AppConfig>): TokenVerifier {
  return new TokenVerifier(configWith({ AUTH_MODE: 'jwt', ...overrides }));
}

const withSecret = (overrides: Partial<AppConfig> = {}): TokenVerifier =>
  verifier({ JWT_SECRET: TEST_SECRET, ...overrides });

/** The refusal reason, checking on the way that the error never quotes the token. */
async function refusal(verify: Promise<unknown>, token: string): Promise<AuthFailureReason> {
  const error: unknown = await verify.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AuthError);
  const authError = error as AuthError;
  const shown = [authError.message, String(authError), authError.stack, JSON.stringify(authError)];
  for (const segment of token.split('.').filter((part) => part.length > 8)) {
    for (const text of shown) expect(text).not.toContain(segment);
  }
  return authError.reason;
}

describe('TokenVerifier', () => {
  describe('with JWT_SECRET', () => {
    it('turns a valid token into a principal: sub as userId, exp in ms, the claims', async () => {
      const token = await signToken({ sub: 'alice', rooms: ['team:*'] }, TEST_SECRET);
      const principal = await withSecret().verify(token);
      expect(principal.userId).toBe('alice');
      expect(principal.expiresAt).toBeGreaterThan(Date.now());
      expect(principal.expiresAt! % 1000).toBe(0);
      expect(principal.claims.rooms).toEqual(['team:*']);
      expect(Object.isFrozen(principal.claims)).toBe(true);
      expect(Object.isFrozen(principal.claims.rooms)).toBe(true);
    });

    it.each(['HS256', 'HS384', 'HS512'])('accepts %s by default', async (alg) => {
      const token = await signToken({ sub: 'alice' }, TEST_SECRET, { alg });
      await expect(withSecret().verify(token)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('takes user_id as the user when there is no sub (seed 003 tokens)', async () => {
      const token = await signToken({ user_id: 'bob' }, TEST_SECRET);
      await expect(withSecret().verify(token)).resolves.toMatchObject({ userId: 'bob' });
    });

    it('prefers sub over user_id', async () => {
      const token = await signToken({ sub: 'alice', user_id: 'bob' }, TEST_SECRET);
      await expect(withSecret().verify(token)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('refuses a token signed with another secret (forged signature)', async () => {
      const token = await signToken({ sub: 'alice' }, `${TEST_SECRET}-but-another-one`);
      expect(await refusal(withSecret().verify(token), token)).toBe('bad signature');
    });

    it('refuses a token whose claims were changed after signing', async () => {
      const [header, , signature] = (await signToken({ sub: 'alice' }, TEST_SECRET)).split('.');
      const payload = Buffer.from(
        JSON.stringify({ sub: 'admin', exp: nowSeconds() + 3600 }),
      ).toString('base64url');
      const token = `${header}.${payload}.${signature}`;
      expect(await refusal(withSecret().verify(token), token)).toBe('bad signature');
    });

    it('refuses alg:none', async () => {
      const token = unsignedToken({ sub: 'alice' });
      expect(await refusal(withSecret().verify(token), token)).toBe('algorithm not allowed');
    });

    it('refuses an HMAC algorithm left out of JWT_ALGORITHMS', async () => {
      const token = await signToken({ sub: 'alice' }, TEST_SECRET, { alg: 'HS512' });
      const pinned = withSecret({ JWT_ALGORITHMS: 'HS256' });
      expect(await refusal(pinned.verify(token), token)).toBe('algorithm not allowed');
    });

    it('refuses an expired token, beyond the clock tolerance', async () => {
      const token = await signToken({ sub: 'alice' }, TEST_SECRET, { expiresIn: -60 });
      expect(await refusal(withSecret().verify(token), token)).toBe('expired');
    });

    it('accepts a token expired by less than AUTH_CLOCK_TOLERANCE_MS', async () => {
      const token = await signToken({ sub: 'alice' }, TEST_SECRET, { expiresIn: -2 });
      await expect(withSecret().verify(token)).resolves.toMatchObject({ userId: 'alice' });
      const strict = withSecret({ AUTH_CLOCK_TOLERANCE_MS: 0 });
      expect(await refusal(strict.verify(token), token)).toBe('expired');
    });

    it('refuses a token without exp', async () => {
      const token = await signToken({ sub: 'alice' }, TEST_SECRET, { expiresIn: null });
      expect(await refusal(withSecret().verify(token), token)).toBe('missing exp');
    });

    it('refuses a token whose exp is not a number', async () => {
      const token = await new SignJWT({ sub: 'alice', exp: 'tomorrow' } as never)
        .setProtectedHeader({ alg: 'HS256' })
        .sign(createSecretKey(Buffer.from(TEST_SECRET)));
      expect(await refusal(withSecret().verify(token), token)).toBe('malformed');
    });

    it('refuses a token that is not yet valid (nbf ahead of the tolerance)', async () => {
      const token = await signToken({ sub: 'alice', nbf: nowSeconds() + 60 }, TEST_SECRET);
      expect(await refusal(withSecret().verify(token), token)).toBe('not yet valid');
    });

    it('accepts a token whose nbf has passed', async () => {
      const token = await signToken({ sub: 'alice', nbf: nowSeconds() - 60 }, TEST_SECRET);
      await expect(withSecret().verify(token)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('refuses a token whose exp is further than JWT_MAX_LIFETIME_S after its iat', async () => {
      const now = nowSeconds();
      const long = await signToken({ sub: 'alice', iat: now }, TEST_SECRET, {
        expiresIn: 86_400 * 2,
      });
      expect(await refusal(withSecret().verify(long), long)).toBe('lifetime too long');
      const huge = await signToken({ sub: 'alice', iat: now, exp: 1e300 }, TEST_SECRET, {
        expiresIn: null,
      });
      expect(await refusal(withSecret().verify(huge), huge)).toBe('lifetime too long');
      const within = await signToken({ sub: 'alice', iat: now }, TEST_SECRET, { expiresIn: 3_600 });
      await expect(withSecret().verify(within)).resolves.toMatchObject({ userId: 'alice' });
      await expect(
        withSecret({ JWT_MAX_LIFETIME_S: 86_400 * 3 }).verify(long),
      ).resolves.toMatchObject({
        userId: 'alice',
      });
    });

    it('measures the lifetime from now for a token without iat', async () => {
      const long = await signToken({ sub: 'alice' }, TEST_SECRET, { expiresIn: 86_400 + 600 });
      expect(await refusal(withSecret().verify(long), long)).toBe('lifetime too long');
      const within = await signToken({ sub: 'alice' }, TEST_SECRET, { expiresIn: 86_000 });
      await expect(withSecret().verify(within)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('refuses a token issued in the future beyond AUTH_CLOCK_TOLERANCE_MS', async () => {
      const ahead = await signToken({ sub: 'alice', iat: nowSeconds() + 60 }, TEST_SECRET);
      expect(await refusal(withSecret().verify(ahead), ahead)).toBe('issued in the future');
      const skewed = await signToken({ sub: 'alice', iat: nowSeconds() + 2 }, TEST_SECRET);
      await expect(withSecret().verify(skewed)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('checks iss against JWT_ISSUER when set', async () => {
      const checking = withSecret({ JWT_ISSUER: 'https://id.example.com' });
      const right = await signToken({ sub: 'a', iss: 'https://id.example.com' }, TEST_SECRET);
      const wrong = await signToken({ sub: 'a', iss: 'https://evil.example.com' }, TEST_SECRET);
      const none = await signToken({ sub: 'a' }, TEST_SECRET);
      await expect(checking.verify(right)).resolves.toMatchObject({ userId: 'a' });
      expect(await refusal(checking.verify(wrong), wrong)).toBe('wrong issuer');
      expect(await refusal(checking.verify(none), none)).toBe('wrong issuer');
      await expect(withSecret().verify(wrong)).resolves.toMatchObject({ userId: 'a' });
    });

    it('checks aud against JWT_AUDIENCE when set, also within a list', async () => {
      const checking = withSecret({ JWT_AUDIENCE: 'pixide-chat' });
      const right = await signToken({ sub: 'a', aud: ['other', 'pixide-chat'] }, TEST_SECRET);
      const wrong = await signToken({ sub: 'a', aud: 'pixide-billing' }, TEST_SECRET);
      await expect(checking.verify(right)).resolves.toMatchObject({ userId: 'a' });
      expect(await refusal(checking.verify(wrong), wrong)).toBe('wrong audience');
      await expect(withSecret().verify(wrong)).resolves.toMatchObject({ userId: 'a' });
    });

    it.each([
      ['a sub that breaks the id pattern', { sub: 'alice smith' }],
      ['a sub with a Redis key delimiter', { sub: 'a{b}' }],
      ['a sub longer than 128 characters', { sub: 'a'.repeat(129) }],
      ['a numeric user_id', { user_id: 42 }],
      ['an invalid sub even with a valid user_id', { sub: '', user_id: 'bob' }],
      ['neither sub nor user_id', { name: 'Alice' }],
    ])('refuses %s', async (_what, claims) => {
      const token = await signToken(claims, TEST_SECRET);
      expect(await refusal(withSecret().verify(token), token)).toBe('bad subject');
    });

    it.each([
      ['rooms', 'a string instead of a list', { rooms: 'team:*' }],
      ['rooms', 'a pattern with a space', { rooms: ['team 1'] }],
      ['rooms', 'a pattern that is not a string', { rooms: [7] }],
      ['publish', 'a pattern with a brace', { publish: ['{x}'] }],
    ])('refuses a %s claim that is %s', async (claim, _what, claims) => {
      const token = await signToken({ sub: 'alice', ...claims }, TEST_SECRET);
      expect(await refusal(withSecret().verify(token), token)).toBe(`bad ${claim} claim`);
    });

    it.each([
      ['garbage', 'not-a-jwt'],
      ['two parts', 'aaaa.bbbb'],
      ['a header that is not JSON', 'bm90IGpzb24.e30.c2ln'],
      ['an empty string', ''],
      ['an oversized token', 'a'.repeat(9000)],
    ])('refuses %s as malformed', async (_what, token) => {
      expect(await refusal(withSecret().verify(token), token)).toBe('malformed');
    });
  });

  describe('with JWT_PUBLIC_KEY', () => {
    it.each([
      ['RS256'],
      ['RS384'],
      ['RS512'],
      ['PS256'],
      ['PS384'],
      ['PS512'],
      ['ES256'],
      ['ES384'],
      ['ES512'],
      ['EdDSA'],
    ])('verifies %s with a PEM key of its type, by default', async (alg) => {
      const pair = await keyPairFor(alg);
      const token = await signToken({ sub: 'alice' }, pair.privateKey, { alg });
      const principal = await verifier({ JWT_PUBLIC_KEY: pair.publicPem }).verify(token);
      expect(principal.userId).toBe('alice');
    });

    it('verifies EdDSA with an Ed448 key', async () => {
      const pair = await testKeyPair('EdDSA', 'Ed448');
      const token = await signToken({ sub: 'alice' }, pair.privateKey, { alg: 'EdDSA' });
      await expect(
        verifier({ JWT_PUBLIC_KEY: pair.publicPem }).verify(token),
      ).resolves.toBeTruthy();
    });

    it('takes the PEM with \\n escapes for the newlines', async () => {
      const pair = await testKeyPair('ES256');
      const token = await signToken({ sub: 'alice' }, pair.privateKey, { alg: 'ES256' });
      const escaped = pair.publicPem.trim().replace(/\n/g, '\\n');
      await expect(verifier({ JWT_PUBLIC_KEY: escaped }).verify(token)).resolves.toBeTruthy();
    });

    it('refuses HS256 signed with the RS public key as the secret (key confusion)', async () => {
      const pair = await rsaPair;
      const token = await signToken({ sub: 'alice' }, pair.publicPem, { alg: 'HS256' });
      const rs = verifier({ JWT_PUBLIC_KEY: pair.publicPem });
      expect(await refusal(rs.verify(token), token)).toBe('algorithm not allowed');
    });

    it('refuses alg:none', async () => {
      const pair = await rsaPair;
      const token = unsignedToken({ sub: 'alice' });
      const rs = verifier({ JWT_PUBLIC_KEY: pair.publicPem });
      expect(await refusal(rs.verify(token), token)).toBe('algorithm not allowed');
    });

    it('refuses a token signed by another key of the same type', async () => {
      const trusted = await testKeyPair('ES256');
      const other = await testKeyPair('ES256');
      const token = await signToken({ sub: 'alice' }, other.privateKey, { alg: 'ES256' });
      const es = verifier({ JWT_PUBLIC_KEY: trusted.publicPem });
      expect(await refusal(es.verify(token), token)).toBe('bad signature');
    });

    it('refuses an RSA algorithm left out of JWT_ALGORITHMS', async () => {
      const pair = await rsaPair;
      const token = await signToken({ sub: 'alice' }, pair.privateKey, { alg: 'RS256' });
      const psOnly = verifier({ JWT_PUBLIC_KEY: pair.publicPem, JWT_ALGORITHMS: 'PS256' });
      expect(await refusal(psOnly.verify(token), token)).toBe('algorithm not allowed');
    });
  });

  describe('verifyRefresh', () => {
    it('returns the new principal for a valid token of the same user', async () => {
      const tokens = withSecret();
      const current = await tokens.verify(await signToken({ sub: 'alice' }, TEST_SECRET));
      const fresh = await signToken({ sub: 'alice', rooms: ['x'] }, TEST_SECRET, {
        expiresIn: 7200,
      });
      const next = await tokens.verifyRefresh(current, fresh);
      expect(next.userId).toBe('alice');
      expect(next.expiresAt).toBeGreaterThan(current.expiresAt!);
      expect(next.claims.rooms).toEqual(['x']);
    });

    it('refuses a valid token of another user', async () => {
      const tokens = withSecret();
      const current = await tokens.verify(await signToken({ sub: 'alice' }, TEST_SECRET));
      const bobs = await signToken({ sub: 'bob' }, TEST_SECRET);
      expect(await refusal(tokens.verifyRefresh(current, bobs), bobs)).toBe('other user');
    });

    it('runs every check of verify on the new token', async () => {
      const tokens = withSecret({ JWT_AUDIENCE: 'chat' });
      const current = await tokens.verify(await signToken({ sub: 'a', aud: 'chat' }, TEST_SECRET));
      const expired = await signToken({ sub: 'a', aud: 'chat' }, TEST_SECRET, { expiresIn: -60 });
      const wrongAud = await signToken({ sub: 'a', aud: 'else' }, TEST_SECRET);
      const forged = await signToken({ sub: 'a', aud: 'chat' }, `${TEST_SECRET}x`);
      expect(await refusal(tokens.verifyRefresh(current, expired), expired)).toBe('expired');
      expect(await refusal(tokens.verifyRefresh(current, wrongAud), wrongAud)).toBe(
        'wrong audience',
      );
      expect(await refusal(tokens.verifyRefresh(current, forged), forged)).toBe('bad signature');
    });
  });

  it('refuses every token under AUTH_MODE=none', async () => {
    const token = await signToken({ sub: 'alice' }, TEST_SECRET);
    const off = new TokenVerifier(configWith({ JWT_SECRET: TEST_SECRET }));
    expect(await refusal(off.verify(token), token)).toBe('auth disabled');
  });
});
