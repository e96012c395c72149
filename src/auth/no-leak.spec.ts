import { ConsoleLogger, Logger } from '@nestjs/common';
import { signToken, TEST_SECRET, testKeyPair } from '../../test/support/jwt-fixtures';
import { configWith, loadConfig } from '../config/load-config';
import { AuthError } from './auth-error';
import { RoomPolicy } from './room-policy';
import { firstFrameToken, handshakeToken } from './token-sources';
import { TokenVerifier } from './token-verifier';

/** Everything written to the console or through Nest's Logger while `run` runs. */
async function captured(run: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const record = (...args: unknown[]): void => {
    lines.push(args.map((arg) => (arg instanceof Error ? `${arg.stack}` : String(arg))).join(' '));
  };
  const spies = (['log', 'warn', 'error', 'debug', 'info'] as const).map((method) =>
    jest.spyOn(console, method).mockImplementation(record),
  );
  const writes = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }),
  );
  Logger.overrideLogger(
    new ConsoleLogger({ logLevels: ['verbose', 'debug', 'log', 'warn', 'error'] }),
  );
  try {
    await run();
  } finally {
    Logger.overrideLogger(false);
    for (const spy of [...spies, ...writes]) spy.mockRestore();
  }
  return lines.join('\n');
}

describe('tokens never leak', () => {
  it('appear in no log line and no error message on any path of the auth module', async () => {
    const MARKER = 'marker-7f3a9c';
    const messages: string[] = [];
    const collect = async (promise: Promise<unknown>): Promise<void> => {
      await promise.then(
        () => undefined,
        (error: unknown) => {
          expect(error).toBeInstanceOf(AuthError);
          const authError = error as AuthError;
          messages.push(authError.message, String(authError.stack), JSON.stringify(authError));
        },
      );
    };
    const pair = await testKeyPair('ES256');
    const verifier = new TokenVerifier(
      configWith({
        AUTH_MODE: 'jwt',
        JWT_SECRET: TEST_SECRET,
        JWT_AUDIENCE: 'chat',
        JWT_ISSUER: 'id',
      }),
    );
    const claims = { sub: 'alice', aud: 'chat', iss: 'id', marker: MARKER };
    const tokens = [
      await signToken(claims, TEST_SECRET),
      await signToken(claims, `${TEST_SECRET}-forged`),
      await signToken(claims, TEST_SECRET, { expiresIn: -3600 }),
      await signToken({ ...claims, nbf: Math.floor(Date.now() / 1000) + 3600 }, TEST_SECRET),
      await signToken({ ...claims, aud: 'other' }, TEST_SECRET),
      await signToken({ ...claims, iss: 'other' }, TEST_SECRET),
      await signToken({ ...claims, sub: 'not valid' }, TEST_SECRET),
      await signToken({ ...claims, rooms: 'bad' }, TEST_SECRET),
      await signToken(claims, TEST_SECRET, { expiresIn: null }),
      await signToken(claims, pair.privateKey, { alg: 'ES256' }),
      `${MARKER}.${MARKER}.${MARKER}`,
      MARKER,
    ];
    const output = await captured(async () => {
      const current = await verifier.verify(tokens[0]);
      for (const token of tokens) {
        await collect(verifier.verify(token));
        await collect(verifier.verifyRefresh(current, token));
        await collect(verifier.verifyRefresh({ ...current, userId: 'bob' }, token));
        handshakeToken(
          { headers: { authorization: `Bearer ${token}` }, url: `/?token=${token}` },
          { queryToken: true },
        );
        firstFrameToken(`Bearer ${token}`);
        new RoomPolicy(configWith({})).canEnter(current, token);
      }
      for (const env of [
        { AUTH_MODE: 'jwt', JWT_SECRET: MARKER },
        { AUTH_MODE: 'jwt', JWT_SECRET: MARKER, PORT: 'x' },
        { AUTH_MODE: 'jwt', JWT_PUBLIC_KEY: MARKER },
        { AUTH_MODE: 'jwt', JWT_SECRET: `${MARKER}${MARKER}${MARKER}`, JWT_PUBLIC_KEY: MARKER },
      ]) {
        try {
          loadConfig(env);
        } catch (error) {
          messages.push(String((error as Error).message));
        }
      }
    });
    expect(messages.length).toBeGreaterThan(tokens.length);
    const secretParts = tokens
      .flatMap((token) => token.split('.'))
      .filter((part) => part.length > 8);
    for (const text of [output, ...messages]) {
      expect(text).not.toContain(MARKER);
      for (const part of secretParts) expect(text).not.toContain(part);
    }
  });
});
