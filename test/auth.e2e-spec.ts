import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK, JWTPayload } from 'jose';
import { TokenVerifier } from '../src/auth/token-verifier';
import { AppConfig } from '../src/config/app-config';
import { chatFrame, errorFrame, isChat, joinedFrame } from './support/expected-frames';
import {
  nowSeconds,
  publicJwk,
  signToken,
  TEST_SECRET,
  testKeyPair,
  TestKeyPair,
  unsignedToken,
} from './support/jwt-fixtures';
import { PROTOCOL_TEST_LIMITS, RunningApp, startApp } from './support/test-app';
import { refusedUpgradeStatus, TestClient } from './support/test-client';

/*
 * AUTH_MODE=jwt end to end: the real app on a loopback port, real `ws` clients, tokens signed by
 * jose. Every refusal is checked at the handshake (HTTP 401) and as seed 003's first frame (1008).
 */

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'pixide';
const claimsOf = (sub: string, extra: JWTPayload = {}): JWTPayload => ({
  sub,
  iss: ISSUER,
  aud: AUDIENCE,
  ...extra,
});

const clients: TestClient[] = [];

afterEach(async () => {
  const open = clients.splice(0);
  for (const client of open) client.terminate();
  await Promise.all(open.map((client) => client.closed));
});

function track(client: TestClient): TestClient {
  clients.push(client);
  return client;
}

/** A connection authenticated at the handshake with `Authorization: Bearer`. */
async function withHeader(url: string, token: string): Promise<TestClient> {
  return track(await TestClient.connect(url, { headers: { authorization: `Bearer ${token}` } }));
}

/** A connection authenticated by seed 003's first frame; resolves after its `auth` frame. */
async function byFirstFrame(url: string, token: string): Promise<TestClient> {
  const client = track(await TestClient.connect(url));
  client.send(`Bearer ${token}`);
  await client.next('auth');
  return client;
}

/** The close of a first-frame attempt with `frame`. */
async function firstFrameClose(url: string, frame: string) {
  const client = track(await TestClient.connect(url));
  client.send(frame);
  return client.closed;
}

const authFailed = { code: 1008, reason: 'authentication failed' };

describe('AUTH_MODE=jwt with an RSA public key', () => {
  let server: RunningApp;
  let pair: TestKeyPair;
  let other: TestKeyPair;
  const good = (sub: string, extra: JWTPayload = {}) =>
    signToken(claimsOf(sub, extra), pair.privateKey);

  beforeAll(async () => {
    pair = await testKeyPair('RS256');
    other = await testKeyPair('RS256');
    server = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      AUTH_MODE: 'jwt',
      JWT_PUBLIC_KEY: pair.publicPem,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      AUTH_CLOCK_TOLERANCE_MS: 0,
      AUTH_DEFAULT_ROOMS: 'lobby*',
    });
  });

  afterAll(() => server.close());

  const refused: [string, () => Promise<string>][] = [
    ['a forged signature', () => signToken(claimsOf('alice'), other.privateKey)],
    ['alg:none', () => Promise.resolve(unsignedToken(claimsOf('alice')))],
    ['an expired token', () => signToken(claimsOf('alice'), pair.privateKey, { expiresIn: -60 })],
    [
      'a token not yet valid',
      () => signToken(claimsOf('alice', { nbf: nowSeconds() + 600 }), pair.privateKey),
    ],
    ['a wrong issuer', () => signToken({ ...claimsOf('alice'), iss: 'evil' }, pair.privateKey)],
    ['a wrong audience', () => signToken({ ...claimsOf('alice'), aud: 'other' }, pair.privateKey)],
    [
      'HS256 signed with the RS public key',
      () => signToken(claimsOf('alice'), pair.publicPem, { alg: 'HS256' }),
    ],
    ['a sub that breaks the id pattern', () => signToken(claimsOf('al ice!'), pair.privateKey)],
    [
      'a token without exp',
      () => signToken(claimsOf('alice'), pair.privateKey, { expiresIn: null }),
    ],
  ];

  it.each(refused)('refuses %s at the handshake with HTTP 401', async (_name, mint) => {
    const token = await mint();
    expect(
      await refusedUpgradeStatus(server.wsUrl, { headers: { authorization: `Bearer ${token}` } }),
    ).toBe(401);
  });

  it.each(refused)('refuses %s as a first frame with 1008', async (_name, mint) => {
    expect(await firstFrameClose(server.wsUrl, `Bearer ${await mint()}`)).toEqual(authFailed);
  });

  it('refuses a bad token offered as a subprotocol with HTTP 401', async () => {
    const token = await signToken(claimsOf('alice'), other.privateKey);
    const status = await new Promise<number>((resolve, reject) => {
      const socket = TestClient.open(server.wsUrl, { protocols: ['bearer', token] });
      socket.ready.then(
        () => reject(new Error('accepted')),
        (error: Error) => resolve(Number(/HTTP (\d+)/.exec(error.message)?.[1] ?? 0)),
      );
    });
    expect(status).toBe(401);
  });

  it('refuses an unusable credential at the handshake with HTTP 401', async () => {
    for (const authorization of ['Bearer', 'Bearer a b']) {
      expect(await refusedUpgradeStatus(server.wsUrl, { headers: { authorization } })).toBe(401);
    }
    const status = await new Promise<number>((resolve, reject) => {
      const socket = TestClient.open(server.wsUrl, { protocols: ['bearer'] });
      socket.ready.then(
        () => reject(new Error('accepted')),
        (error: Error) => resolve(Number(/HTTP (\d+)/.exec(error.message)?.[1] ?? 0)),
      );
    });
    expect(status).toBe(401);
  });

  it('closes with 1008 on a binary first frame, even one holding a valid `Bearer <jwt>`', async () => {
    const client = track(await TestClient.connect(server.wsUrl));
    client.send(Buffer.from(`Bearer ${await good('alice')}`));
    expect(await client.closed).toEqual(authFailed);
  });

  it('closes with 1008 on a first frame other than `Bearer <jwt>`', async () => {
    expect(
      await firstFrameClose(server.wsUrl, JSON.stringify({ type: 'join', userId: 'alice' })),
    ).toEqual(authFailed);
    expect(await firstFrameClose(server.wsUrl, 'Basic abc')).toEqual(authFailed);
  });

  it('handles nothing a socket sent before it authenticated: a room member sees nothing', async () => {
    const member = await withHeader(server.wsUrl, await good('bob'));
    await member.request({ type: 'join', roomId: 'lobby' }, 'joined');
    // A socket whose first frame is a message, and one whose token is bad, each followed by more.
    const intruder = track(await TestClient.connect(server.wsUrl));
    intruder.send({ type: 'join', userId: 'mallory', roomId: 'lobby' });
    intruder.send({ type: 'chat_message', userId: 'mallory', content: 'first' });
    const forger = track(await TestClient.connect(server.wsUrl));
    forger.send(`Bearer ${await signToken(claimsOf('mallory'), other.privateKey)}`);
    forger.send({ type: 'join', userId: 'mallory', roomId: 'lobby' });
    forger.send({ type: 'chat_message', userId: 'mallory', content: 'second' });
    expect(await intruder.closed).toEqual(authFailed);
    expect(await forger.closed).toEqual(authFailed);
    // The member's own marker arrives with nothing from the others before it.
    member.send({ type: 'chat_message', content: 'marker' });
    await member.next(isChat('marker'));
    expect(member.unread()).toEqual([]);
  });

  it('authenticates by header: `/ws` greets with auth at once, `/` does not', async () => {
    const token = await good('alice');
    const expiresAt =
      (
        JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
          exp: number;
        }
      ).exp * 1000;
    const greeted = await withHeader(`${server.wsUrl}/ws`, token);
    expect(await greeted.next()).toEqual({
      type: 'auth',
      status: 'ok',
      userId: 'alice',
      expiresAt,
      server_version: expect.any(String),
    });
    const plain = await withHeader(server.wsUrl, token);
    // The first frame `/` sends is the answer to the join: no auth frame before it.
    expect(await plain.request({ type: 'join' })).toEqual(joinedFrame('alice', 'alice'));
  });

  it('authenticates by subprotocol, selecting `bearer` and never echoing the token', async () => {
    const client = track(
      await TestClient.connect(`${server.wsUrl}/ws`, {
        protocols: ['bearer', await good('carol')],
      }),
    );
    expect(client.socket.protocol).toBe('bearer');
    expect(await client.next()).toMatchObject({ type: 'auth', userId: 'carol' });
    expect(await client.request({ type: 'join', roomId: 'lobby' })).toEqual(
      joinedFrame('carol', 'lobby'),
    );
  });

  it('authenticates by first frame on `/` and `/ws` with seed 003’s answer', async () => {
    for (const path of ['', '/ws']) {
      const client = track(await TestClient.connect(`${server.wsUrl}${path}`));
      client.send(`bearer ${await good('dave')}`);
      expect(await client.next()).toEqual({
        type: 'auth',
        status: 'ok',
        userId: 'dave',
        expiresAt: expect.any(Number),
        server_version: expect.any(String),
      });
      expect(await client.request({ type: 'join', roomId: 'lobby' })).toEqual(
        joinedFrame('dave', 'lobby'),
      );
    }
  });

  it('ignores ?token= unless AUTH_QUERY_TOKEN is on: the socket must then authenticate by frame', async () => {
    const client = track(
      await TestClient.connect(`${server.wsUrl}/ws?token=${await good('erin')}`),
    );
    client.send({ type: 'join' });
    expect(await client.closed).toEqual(authFailed);
  });

  it('closes a socket that sends nothing within AUTH_TIMEOUT_MS', async () => {
    const quick = await startApp({
      AUTH_MODE: 'jwt',
      JWT_PUBLIC_KEY: pair.publicPem,
      AUTH_TIMEOUT_MS: 200,
    });
    try {
      const client = await TestClient.connect(quick.wsUrl);
      expect(await client.closed).toEqual({ code: 1008, reason: 'authentication timeout' });
    } finally {
      await quick.close();
    }
  });

  describe('userId from the token', () => {
    it('fills in an omitted userId and refuses one naming another user with user_mismatch', async () => {
      const observer = await withHeader(server.wsUrl, await good('olga'));
      await observer.request({ type: 'join', roomId: 'lobby-spoof' }, 'joined');
      const alice = await withHeader(server.wsUrl, await good('alice'));
      expect(await alice.request({ type: 'join', userId: 'bob', roomId: 'lobby-spoof' })).toEqual(
        errorFrame('user_mismatch'),
      );
      expect(await alice.request({ type: 'join', roomId: 'lobby-spoof' })).toEqual(
        joinedFrame('alice', 'lobby-spoof'),
      );
      await observer.next('user_joined');
      expect(
        await alice.request({ type: 'chat_message', userId: 'bob', content: 'spoofed' }),
      ).toEqual(errorFrame('user_mismatch'));
      expect(
        await alice.request({ type: 'switch_room', userId: 'bob', roomId: 'lobby-2' }),
      ).toEqual(errorFrame('user_mismatch'));
      alice.send({ type: 'chat_message', userId: 'alice', content: 'real' });
      expect(await observer.next('chat_message')).toEqual(
        chatFrame('alice', 'lobby-spoof', 'real'),
      );
      expect(observer.unread()).toEqual([]);
    });

    it('refuses a ?userId= auto-join naming another user', async () => {
      const client = await withHeader(`${server.wsUrl}/?userId=bob`, await good('alice'));
      expect(await client.next()).toEqual(errorFrame('user_mismatch'));
      const own = await withHeader(`${server.wsUrl}/?userId=alice`, await good('alice'));
      expect(await own.next()).toEqual(joinedFrame('alice', 'alice'));
    });

    it('takes seed 003’s user_id when there is no sub', async () => {
      const token = await signToken(
        { user_id: 'seed-user', iss: ISSUER, aud: AUDIENCE },
        pair.privateKey,
      );
      const client = await byFirstFrame(server.wsUrl, token);
      expect(await client.request({ type: 'join' })).toEqual(joinedFrame('seed-user', 'seed-user'));
    });
  });

  describe('room patterns', () => {
    it('lets a user enter only the rooms of its claim, and its own room, staying connected', async () => {
      const client = await withHeader(
        server.wsUrl,
        await good('alice', { rooms: ['team:42:*', 'workspace:7'] }),
      );
      expect(await client.request({ type: 'join', roomId: 'team:42:docs' })).toEqual(
        joinedFrame('alice', 'team:42:docs'),
      );
      for (const message of [
        { type: 'join', roomId: 'team:43:docs' },
        { type: 'switch_room', roomId: 'workspace:70' },
        { type: 'presence', roomId: 'lobby' },
      ]) {
        expect(await client.request(message)).toEqual(errorFrame('forbidden'));
      }
      expect(await client.request({ type: 'switch_room', roomId: 'workspace:7' })).toEqual(
        joinedFrame('alice', 'workspace:7'),
      );
      expect(await client.request({ type: 'presence' })).toMatchObject({ type: 'presence' });
      expect(await client.request({ type: 'join' })).toEqual(joinedFrame('alice', 'alice'));
    });

    it('applies AUTH_DEFAULT_ROOMS to a token without the claim', async () => {
      const client = await withHeader(server.wsUrl, await good('alice'));
      expect(await client.request({ type: 'join', roomId: 'lobby-a' })).toEqual(
        joinedFrame('alice', 'lobby-a'),
      );
      expect(await client.request({ type: 'join', roomId: 'secret' })).toEqual(
        errorFrame('forbidden'),
      );
    });
  });
});

/**
 * Seconds a token that is to expire during a test lives: `exp` counts whole seconds, so a token of
 * one second may have only milliseconds left when the handshake reaches the server; two leave at
 * least one.
 */
const EXPIRING_S = 2;

describe('AUTH_MODE=jwt: expiry, refresh and the per-user cap', () => {
  let server: RunningApp;
  const token = (sub: string, expiresIn = 3600, extra: JWTPayload = {}) =>
    signToken({ sub, ...extra }, TEST_SECRET, { expiresIn });

  beforeAll(async () => {
    server = await startApp({
      ...PROTOCOL_TEST_LIMITS,
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      AUTH_CLOCK_TOLERANCE_MS: 0,
      AUTH_REFRESH_GRACE_MS: 1_000,
      AUTH_QUERY_TOKEN: true,
      MAX_CONNECTIONS_PER_USER: 2,
    });
  });

  afterAll(() => server.close());

  it('sends token_expired at exp and closes with 4001 without a refresh', async () => {
    const client = await withHeader(server.wsUrl, await token('exp-1', EXPIRING_S));
    expect(await client.next('error', 5_000)).toEqual(errorFrame('token_expired'));
    expect(await client.closed).toEqual({ code: 4001, reason: 'token expired' });
  });

  it('keeps a connection refreshed within the grace past the close of one that was not', async () => {
    const stale = await withHeader(server.wsUrl, await token('exp-2', EXPIRING_S));
    const fresh = await withHeader(server.wsUrl, await token('exp-3', EXPIRING_S));
    await fresh.request({ type: 'join' }, 'joined');
    expect(await fresh.next('error', 5_000)).toEqual(errorFrame('token_expired'));
    const refreshed = await fresh.request({ type: 'refresh', token: await token('exp-3') });
    expect(refreshed).toEqual({ type: 'refreshed', expiresAt: expect.any(Number) });
    expect(refreshed.expiresAt as number).toBeGreaterThan(Date.now() + 3_000_000);
    expect(await stale.closed).toEqual({ code: 4001, reason: 'token expired' });
    // Past the stale one's close, the refreshed one is still served.
    expect(await fresh.request({ type: 'join' })).toEqual(joinedFrame('exp-3', 'exp-3'));
  });

  it('answers invalid_token to a refresh for another user or with a bad token, and closes at the grace', async () => {
    const client = await withHeader(server.wsUrl, await token('exp-4', EXPIRING_S));
    expect(await client.next('error', 5_000)).toEqual(errorFrame('token_expired'));
    expect(await client.request({ type: 'refresh', token: await token('someone-else') })).toEqual(
      errorFrame('invalid_token'),
    );
    expect(await client.request({ type: 'refresh', token: 'not-a-jwt' })).toEqual(
      errorFrame('invalid_token'),
    );
    expect(await client.closed).toEqual({ code: 4001, reason: 'token expired' });
  });

  it('accepts ?token= when AUTH_QUERY_TOKEN is on, and refuses a bad one with 401', async () => {
    const client = track(await TestClient.connect(`${server.wsUrl}/ws?token=${await token('q')}`));
    expect(await client.next()).toMatchObject({ type: 'auth', userId: 'q' });
    expect(await refusedUpgradeStatus(`${server.wsUrl}/ws?token=bad`)).toBe(401);
  });

  it('refuses the user’s connection over MAX_CONNECTIONS_PER_USER: 429 at the handshake, 4503 by first frame', async () => {
    const first = await withHeader(server.wsUrl, await token('capped'));
    await withHeader(server.wsUrl, await token('capped'));
    const headers = { authorization: `Bearer ${await token('capped')}` };
    expect(await refusedUpgradeStatus(server.wsUrl, { headers })).toBe(429);
    expect(await firstFrameClose(server.wsUrl, `Bearer ${await token('capped')}`)).toEqual({
      code: 4503,
      reason: 'too many connections for this user',
    });
    // Another user is not affected; a closed connection gives its place back.
    await withHeader(server.wsUrl, await token('uncapped'));
    await first.close();
    const again = await eventuallyConnected(server.wsUrl, await token('capped'));
    expect(again).toBeDefined();
  });
});

/** Retries a header connection until the server has given a closed connection's place back. */
async function eventuallyConnected(url: string, token: string): Promise<TestClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withHeader(url, token);
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('AUTH_MODE=jwt with a JWKS from an HTTP server', () => {
  let jwks: Server;
  let keys: JWK[];
  let server: RunningApp;
  let first: TestKeyPair;
  let second: TestKeyPair;

  beforeAll(async () => {
    first = await testKeyPair('ES256');
    second = await testKeyPair('ES256');
    keys = [await publicJwk(first, 'k1')];
    jwks = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    server = await startApp(
      { AUTH_MODE: 'jwt', JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` },
      {
        // The cooldown between JWKS fetches is lifted so that the rotation is seen at once.
        override: (builder) =>
          builder.overrideProvider(TokenVerifier).useFactory({
            factory: (config: AppConfig) => new TokenVerifier(config, { jwksCooldownMs: 0 }),
            inject: [AppConfig],
          }),
      },
    );
  });

  afterAll(async () => {
    await server.close();
    await new Promise((resolve) => jwks.close(resolve));
  });

  it('verifies with the issuer’s key by kid and follows a key rotation', async () => {
    const before = await signToken({ sub: 'jw' }, first.privateKey, { alg: 'ES256', kid: 'k1' });
    expect(await (await withHeader(`${server.wsUrl}/ws`, before)).next()).toMatchObject({
      type: 'auth',
      userId: 'jw',
    });
    // The issuer rotates: k1 is gone, k2 signs.
    keys = [await publicJwk(second, 'k2')];
    const after = await signToken({ sub: 'jw' }, second.privateKey, { alg: 'ES256', kid: 'k2' });
    expect(await (await byFirstFrame(server.wsUrl, after)).request({ type: 'join' })).toEqual(
      joinedFrame('jw', 'jw'),
    );
    const forged = await signToken({ sub: 'jw' }, first.privateKey, { alg: 'ES256', kid: 'k2' });
    expect(
      await refusedUpgradeStatus(server.wsUrl, { headers: { authorization: `Bearer ${forged}` } }),
    ).toBe(401);
  });
});

describe('AUTH_MODE=none', () => {
  let server: RunningApp;

  beforeAll(async () => {
    server = await startApp({});
  });

  afterAll(() => server.close());

  it('greets on /ws with an auth frame without userId or expiresAt, and not on /', async () => {
    const greeted = track(await TestClient.connect(`${server.wsUrl}/ws`));
    expect(await greeted.next()).toEqual({
      type: 'auth',
      status: 'ok',
      server_version: expect.any(String),
    });
    const plain = track(await TestClient.connect(server.wsUrl));
    expect(await plain.request({ type: 'join', userId: 'zed' })).toEqual(joinedFrame('zed', 'zed'));
  });

  it('does not know `refresh`', async () => {
    const client = track(await TestClient.connect(server.wsUrl));
    expect(await client.request({ type: 'refresh', token: 'x' })).toEqual(
      errorFrame('unknown_type'),
    );
  });
});
