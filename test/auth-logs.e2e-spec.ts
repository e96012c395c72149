import { randomUUID } from 'node:crypto';
import { signToken, TEST_SECRET } from './support/jwt-fixtures';
import { eventually } from './support/eventually';
import { ServerProcess, spawnServer } from './support/server-process';
import { refusedUpgradeStatus, TestClient } from './support/test-client';

/*
 * Nothing leaks: a server process at LOG_LEVEL=debug is taken through every token path with
 * marker tokens (valid, refused at the handshake, refused as a first frame, refused in a refresh,
 * spoofing another user), and neither the tokens nor the marker claim appear in its output, its
 * error frames or /health. The reasons of the refusals do appear, in the debug log.
 */

async function stop(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
  }
  await server.exited;
}

describe('tokens in logs', () => {
  let server: ServerProcess;
  let url: string;
  let httpUrl: string;
  const marker = `marker-${randomUUID()}`;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = spawnServer({
      LOG_LEVEL: 'debug',
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      AUTH_QUERY_TOKEN: 'true',
      AUTH_CLOCK_TOLERANCE_MS: '0',
      AUTH_REFRESH_GRACE_MS: '500',
      MAX_CONNECTIONS_PER_USER: '4',
    });
    const port = await server.port;
    url = `ws://127.0.0.1:${port}`;
    httpUrl = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    for (const client of clients) client.terminate();
    await stop(server);
  });

  const mint = (sub: string, expiresIn = 3600, key = TEST_SECRET) =>
    signToken({ sub, marker }, key, { expiresIn });

  async function open(path: string, options = {}): Promise<TestClient> {
    const client = await TestClient.connect(`${url}${path}`, options);
    clients.push(client);
    return client;
  }

  it('writes no token and no claim anywhere, whatever the path', async () => {
    const tokens: string[] = [];
    const keep = async (token: Promise<string>) => {
      const value = await token;
      tokens.push(value);
      return value;
    };
    const frames: unknown[] = [];

    // Accepted: header, subprotocol, query, first frame; then a spoof and refreshes.
    const header = await open('/ws', {
      headers: { authorization: `Bearer ${await keep(mint('marky'))}` },
    });
    frames.push(await header.next('auth'));
    frames.push(await header.request({ type: 'join', userId: 'other' }));
    frames.push(await header.request({ type: 'refresh', token: await keep(mint('other')) }));
    frames.push(
      await header.request({
        type: 'refresh',
        token: await keep(mint('marky', 3600, 'x'.repeat(40))),
      }),
    );
    frames.push(await header.request({ type: 'refresh', token: await keep(mint('marky')) }));
    const sub = await open('/ws', { protocols: ['bearer', await keep(mint('marky'))] });
    frames.push(await sub.next('auth'));
    const query = await open(`/ws?token=${await keep(mint('marky'))}`);
    frames.push(await query.next('auth'));
    const first = await open('/');
    first.send(`Bearer ${await keep(mint('marky'))}`);
    frames.push(await first.next('auth'));

    // Refused at the handshake (each a different reason) and as first frames.
    const refusedTokens = [
      await keep(mint('marky', -60)),
      await keep(mint('marky', 3600, 'y'.repeat(40))),
      await keep(mint('bad user', 3600)),
    ];
    for (const token of refusedTokens) {
      expect(
        await refusedUpgradeStatus(url, { headers: { authorization: `Bearer ${token}` } }),
      ).toBe(401);
      expect(await refusedUpgradeStatus(`${url}/?token=${token}`)).toBe(401);
      const client = await open('/');
      client.send(`Bearer ${token}`);
      expect((await client.closed).code).toBe(1008);
    }
    // Over the per-user cap.
    expect(
      await refusedUpgradeStatus(url, {
        headers: { authorization: `Bearer ${await keep(mint('marky'))}` },
      }),
    ).toBe(429);

    // Expiry without a refresh.
    const expiring = await open('/', {
      headers: { authorization: `Bearer ${await keep(mint('short', 1))}` },
    });
    frames.push(await expiring.next('error', 5_000));
    expect((await expiring.closed).code).toBe(4001);

    const health = await (await fetch(`${httpUrl}/health`)).text();
    // Let the server write its debug lines for the last closes.
    await stop(server);
    const output = server.output();

    expect(output).toContain('bad signature');
    expect(output).toContain('expired');
    for (const token of tokens) {
      for (const where of [output, health, JSON.stringify(frames)]) {
        expect(where).not.toContain(token);
        // Any of its three parts alone would be as bad.
        for (const part of token.split('.')) if (part !== '') expect(where).not.toContain(part);
      }
    }
    expect(output).not.toContain(marker);
    expect(JSON.stringify(frames)).not.toContain(marker);
    expect(health).not.toContain(marker);
  });
});

describe('tokens and bodies on plain HTTP', () => {
  const marker = `marker-${randomUUID()}`;
  const API_KEY = 'test-api-key-0123456789';

  it('never appear in a log line at verbose, nor in an answer: GETs, 404s, refused upgrades, bad bodies', async () => {
    const server = spawnServer({
      LOG_LEVEL: 'verbose',
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      AUTH_QUERY_TOKEN: 'true',
      API_KEY,
    });
    try {
      const port = await server.port;
      const http = `http://127.0.0.1:${port}`;
      const ws = `ws://127.0.0.1:${port}`;
      const valid = await signToken({ sub: 'marky', marker }, TEST_SECRET);
      const forged = await signToken({ sub: 'marky', marker }, 'z'.repeat(40));
      const answers: string[] = [];
      const get = async (path: string, init?: RequestInit): Promise<number> => {
        const response = await fetch(`${http}${path}`, init);
        answers.push(await response.text());
        return response.status;
      };
      for (const token of [valid, forged]) {
        expect(await get(`/ws?token=${token}`)).toBe(404);
        expect(await get(`/no/such/route?token=${token}`)).toBe(404);
        expect(await get(`/api/rpc?token=${token}`)).toBe(404);
        expect(await get(`/?token=${token}`)).toBe(200);
        expect(await refusedUpgradeStatus(`${ws}/nowhere?token=${token}`)).toBe(404);
      }
      expect(await refusedUpgradeStatus(`${ws}/ws?token=${forged}`)).toBe(401);
      const post = (body: string) =>
        get('/api/rpc', {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body,
        });
      expect(await post(`{"method": "${marker}", ${marker}`)).toBe(400);
      expect(await post(`${marker}`)).toBe(400);
      expect(await post(`"${marker}"`)).toBe(400);
      await stop(server);
      const output = server.output();
      expect(output).toContain('404');
      expect(output).toContain('the body is not valid JSON');
      for (const where of [output, ...answers]) {
        expect(where).not.toContain(marker);
        for (const token of [valid, forged]) {
          for (const part of token.split('.')) if (part !== '') expect(where).not.toContain(part);
        }
      }
    } finally {
      await stop(server);
    }
  });
});

describe('the start-up warning', () => {
  it('warns under AUTH_MODE=none when HOST is not a loopback address', async () => {
    const open = spawnServer({ HOST: '0.0.0.0' });
    try {
      await eventually(
        'the open-access warning',
        () => open.output().includes('AUTH_MODE=none on HOST=0.0.0.0'),
        20_000,
      );
      expect(open.output()).toContain('set AUTH_MODE=jwt in production');
    } finally {
      await stop(open);
    }
  });
});
