import type { Socket } from 'node:net';
import { ServerProcess, spawnServer } from './support/server-process';
import { RunningApp, startApp } from './support/test-app';
import { CloseInfo, TestClient, joinedClient, refusedUpgradeStatus } from './support/test-client';

/** The client's TCP socket: pausing it stops the client from reading, so it never answers a close. */
function tcpSocketOf(client: TestClient): Socket {
  return (client.socket as unknown as { _socket: Socket })._socket;
}

function expectServiceRestart(close: CloseInfo): void {
  expect(close.code).toBe(1012);
  expect(close.reason.length).toBeGreaterThan(0);
}

describe('graceful shutdown in process', () => {
  let server: RunningApp;
  let closing: Promise<void> | undefined;
  const clients: TestClient[] = [];
  const paused: Socket[] = [];

  async function joined(userId: string, roomId?: string): Promise<TestClient> {
    const client = await joinedClient(server.wsUrl, userId, roomId);
    clients.push(client);
    return client;
  }

  function close(): Promise<void> {
    closing ??= server.close();
    return closing;
  }

  beforeEach(async () => {
    // Half of this is the drain budget: far longer than any test, so only the tests end a drain.
    server = await startApp({ SHUTDOWN_TIMEOUT_MS: 20_000 });
    closing = undefined;
  });

  afterEach(async () => {
    for (const socket of paused.splice(0)) socket.resume();
    for (const client of clients.splice(0)) client.terminate();
    await close();
  });

  it('closes every client with 1012 and a reason', async () => {
    await joined('alice', 'lobby');
    await joined('bob', 'lobby');
    await joined('carol');
    const auto = await TestClient.connect(`${server.wsUrl}/ws?userId=dave`);
    clients.push(auto);
    await auto.next('joined');
    const idle = await TestClient.connect(server.wsUrl);
    clients.push(idle);

    const stopped = close();

    const closes = await Promise.all(clients.map((client) => client.closed));
    for (const info of closes) expectServiceRestart(info);
    await stopped;
  });

  it('while draining answers health with 503 and refuses new upgrades with 503', async () => {
    const alice = await joined('alice', 'lobby');
    const stalled = await joined('bob', 'lobby');
    const stalledTcp = tcpSocketOf(stalled);
    stalledTcp.pause();
    paused.push(stalledTcp);

    let stopped = false;
    const stopping = close().then(() => (stopped = true));
    // alice's 1012 is sent after the drain began; the stalled client keeps the drain open.
    expectServiceRestart(await alice.closed);

    for (const path of ['/', '/health']) {
      const response = await fetch(`${server.httpUrl}${path}`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as Record<string, unknown>;
      // Terminus itself reports 'shutting_down' once its own shutdown hook ran; either is a 503.
      expect(['error', 'shutting_down']).toContain(body.status);
      expect(body).toMatchObject({
        info: {},
        error: {
          chat: { status: 'down', connections: expect.any(Number), rooms: expect.any(Number) },
        },
        details: { chat: { status: 'down' } },
      });
    }
    expect(await refusedUpgradeStatus(`${server.wsUrl}/`)).toBe(503);
    expect(await refusedUpgradeStatus(`${server.wsUrl}/ws?userId=erin`)).toBe(503);
    expect(stopped).toBe(false);

    // Reading again, the client answers the close handshake and the drain completes.
    stalledTcp.resume();
    expectServiceRestart(await stalled.closed);
    await stopping;
    expect(stopped).toBe(true);
  });
});

describe('graceful shutdown of the server process', () => {
  const processes: ServerProcess[] = [];
  const clients: TestClient[] = [];

  function start(settings: Record<string, string> = {}): ServerProcess {
    const server = spawnServer(settings);
    processes.push(server);
    return server;
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    for (const server of processes.splice(0)) {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGKILL');
      }
      await server.exited;
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s closes clients with 1012 and exits with code 0',
    async (signal) => {
      const server = start();
      const url = `ws://127.0.0.1:${await server.port}`;
      const alice = await joinedClient(url, 'alice', 'lobby');
      clients.push(alice);
      const bob = await joinedClient(`${url}/ws`, 'bob', 'lobby');
      clients.push(bob);

      server.child.kill(signal);

      expectServiceRestart(await alice.closed);
      expectServiceRestart(await bob.closed);
      expect(await server.exited).toEqual({ code: 0, signal: null });
    },
  );

  it.each([
    ['PORT', 'abc'],
    ['HEARTBEAT_INTERVAL_MS', '-5'],
  ])('refuses to start with %s=%s and names the variable', async (name, value) => {
    const server = start({ [name]: value });
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(server.output()).toContain(name);
    expect(server.output()).not.toContain('listening on');
  });
});
