import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './support/eventually';
import { isChat } from './support/expected-frames';
import { TEST_SECRET, signToken } from './support/jwt-fixtures';
import { spawnedEntry } from './support/spawned-build';
import { TcpProxy } from './support/tcp-proxy';
import { RunningApp, startApp } from './support/test-app';
import { TestClient, joinedClient } from './support/test-client';

/*
 * The terminal client (`npm run client`, scripts/chat-client.ts) as a process against the real
 * app: fed by a pipe, as `printf 'hi\n' | npm run -s client -- URL` feeds it, or line by line.
 * Drops come from a TCP proxy between the client and the app (test/support/tcp-proxy.ts).
 */

/** Long enough for a few reconnect attempts of the client's backoff (0.5 s doubling). */
const RECONNECT_WAIT_MS = 20_000;

const ROOT = join(__dirname, '..');

interface ClientProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  exited: Promise<number | null>;
}

/** Starts `npm run client -- URL --user USER --room ROOM [...more]` with its stdin a pipe. */
function startClient(
  url: string,
  userId: string,
  roomId: string,
  more: string[] = [],
): ClientProcess {
  const child = spawn(
    process.execPath,
    [spawnedEntry('scripts/chat-client.ts'), url, '--user', userId, '--room', roomId, ...more],
    { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.resume();
  // A client that has exited closes its stdin; a late write must not fail the test.
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, exited };
}

/** Resolves once the client has printed a line containing `text` (or matching it). */
function printed(
  process: ClientProcess,
  text: string | RegExp,
  timeoutMs?: number,
): Promise<string> {
  return eventually(
    () => `the client to print "${String(text)}"; it printed:\n${process.stdout()}`,
    () =>
      typeof text === 'string' ? process.stdout().includes(text) : text.test(process.stdout()),
    timeoutMs,
  ).then(() => process.stdout());
}

/** Sends chat lines from `sender` one after another, each once the server has echoed it. */
async function say(sender: TestClient, userId: string, lines: string[]): Promise<void> {
  for (const content of lines) {
    await sender.request({ type: 'chat_message', userId, content }, isChat(content));
  }
}

/** The chat lines of `userId` the client printed, in order (`HH:MM:SS [room] user: content`). */
function chatLines(output: string, userId: string): string[] {
  const line = new RegExp(`^\\d\\d:\\d\\d:\\d\\d \\[[^\\]]+\\] ${userId}: (.*)$`);
  return output.split('\n').flatMap((text) => line.exec(text)?.[1] ?? []);
}

describe('the terminal client', () => {
  let server: RunningApp;
  const clients: TestClient[] = [];
  const processes: ClientProcess[] = [];
  const proxies: TcpProxy[] = [];

  beforeEach(async () => {
    server = await startApp({ ABUSE_ERRORS_MAX: 1 });
  });

  afterEach(async () => {
    for (const process of processes.splice(0)) {
      if (process.child.exitCode === null) process.child.kill('SIGKILL');
      await process.exited;
    }
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await server.close();
  });

  async function proxyTo(port: number): Promise<TcpProxy> {
    const proxy = await TcpProxy.start(port);
    proxies.push(proxy);
    return proxy;
  }

  async function listener(userId: string, roomId: string): Promise<TestClient> {
    const client = await joinedClient(server.wsUrl, userId, roomId);
    clients.push(client);
    return client;
  }

  function client(userId: string, roomId: string, url = server.wsUrl): ClientProcess {
    const started = startClient(url, userId, roomId);
    processes.push(started);
    return started;
  }

  it.each([1, 2, 3, 4, 5])(
    'fed by a pipe, delivers its line to the room before it leaves, and exits 0 (run %i)',
    async (run) => {
      const bob = await listener('bob', 'lobby');
      const alice = client('alice', 'lobby');
      const line = `hi from the pipe ${run}`;

      alice.child.stdin.end(`${line}\n`);

      expect(await bob.next(isChat(line), 10_000)).toMatchObject({
        type: 'chat_message',
        userId: 'alice',
        roomId: 'lobby',
        content: line,
      });
      expect(await alice.exited).toBe(0);
    },
  );

  it('lists who is in the room on /who', async () => {
    const bob = await listener('bob', 'lobby');
    const alice = client('alice', 'lobby');
    await bob.next('user_joined', 10_000);

    alice.child.stdin.write('/who\n');

    const output = await printed(alice, '* in lobby:');
    const line = output.split('\n').find((text) => text.includes('* in lobby:')) ?? '';
    expect(line).toMatch(/\* in lobby: (alice, bob|bob, alice)$/);
    alice.child.stdin.end();
    expect(await alice.exited).toBe(0);
  });

  it('names the close code the server ends it with (1008 after too many errors)', async () => {
    const alice = client('alice', 'lobby');
    await printed(alice, 'Joined room: lobby');

    // Two refused switches: one error more than ABUSE_ERRORS_MAX (1).
    alice.child.stdin.write('/switch bad!room\n/switch bad!room\n');

    await printed(alice, '* connection closed: 1008 policy violation');
    expect(await alice.exited).toBe(1);
  });

  it('does not reconnect after a backend disconnected the user (4500, as the close-code table says)', async () => {
    const apiKey = 'test-api-key-0123456789';
    const backed = await startApp({ API_KEY: apiKey });
    try {
      const alice = startClient(backed.wsUrl, 'alice', 'lobby');
      processes.push(alice);
      await printed(alice, 'Joined room: lobby');
      const response = await fetch(`${backed.httpUrl}/api/rpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          method: 'user.disconnect',
          params: { user_id: 'alice', reason: 'account closed' },
        }),
      });
      expect(response.status).toBe(200);
      await printed(
        alice,
        '* connection closed: 4500 disconnected by the backend: do not reconnect (account closed)',
      );
      expect(await alice.exited).toBe(1);
      expect(alice.stdout()).not.toContain('reconnecting');
    } finally {
      await backed.close();
    }
  });

  it('after a dropped connection, reconnects, rejoins with since and prints each message sent meanwhile once', async () => {
    const proxy = await proxyTo(server.port);
    const bob = await listener('bob', 'lobby');
    const alice = client('alice', 'lobby', proxy.wsUrl);
    await printed(alice, 'Joined room: lobby');
    await bob.next('user_joined', 10_000);
    await say(bob, 'bob', ['before the drop']);
    await printed(alice, 'bob: before the drop');

    proxy.refuse();
    proxy.cut();
    await printed(alice, '* connection closed: 1006 connection lost');
    // The server has seen alice go: what follows is sent while she is away.
    await bob.next('user_left', 10_000);
    const missed = Array.from({ length: 20 }, (_, i) => `missed ${i + 1}`);
    await say(bob, 'bob', missed);
    proxy.accept();

    await printed(alice, /\* recovered \d+ missed messages in lobby/, RECONNECT_WAIT_MS);
    await say(bob, 'bob', ['after the rejoin']);
    const output = await printed(alice, 'bob: after the rejoin');

    expect(output).toContain('* reconnecting in ');
    expect(chatLines(output, 'bob')).toEqual(['before the drop', ...missed, 'after the rejoin']);
    alice.child.stdin.end();
    expect(await alice.exited).toBe(0);
  });

  it('after a restart that lost the history (1012, new epoch), says it could not recover and prints the last messages', async () => {
    const proxy = await proxyTo(server.port);
    const alice = client('alice', 'lobby', proxy.wsUrl);
    await printed(alice, 'Joined room: lobby');

    proxy.refuse();
    await server.close();
    await printed(alice, '* connection closed: 1012 service restart');
    server = await startApp({ ABUSE_ERRORS_MAX: 1 });
    proxy.target(server.port);
    const bob = await listener('bob', 'lobby');
    await say(bob, 'bob', ['fresh 1', 'fresh 2']);
    proxy.accept();

    const output = await printed(alice, '* end of history', RECONNECT_WAIT_MS);
    const after = output.slice(output.indexOf('* could not recover what was missed in lobby'));
    expect(after).toContain('* history of lobby');
    expect(chatLines(after, 'bob')).toEqual(['fresh 1', 'fresh 2']);
    alice.child.stdin.end();
    expect(await alice.exited).toBe(0);
  });

  it('/history N prints the last N messages of the room, oldest first, as live ones', async () => {
    const alice = client('alice', 'lobby');
    await printed(alice, 'Joined room: lobby');
    const bob = await listener('bob', 'lobby');
    const lines = ['old 1', 'old 2', 'old 3', 'old 4', 'old 5'];
    await say(bob, 'bob', lines);
    const live = await printed(alice, 'bob: old 5');

    alice.child.stdin.write('/history 3\n');

    const output = await printed(alice, '* end of history');
    const history = output.slice(live.length);
    expect(history).toMatch(/\* history of lobby, 3 oldest first:/);
    expect(chatLines(history, 'bob')).toEqual(['old 3', 'old 4', 'old 5']);
    alice.child.stdin.end();
    expect(await alice.exited).toBe(0);
  });

  it('leaves at once on /quit while it waits to reconnect, and exits 0', async () => {
    const proxy = await proxyTo(server.port);
    const alice = client('alice', 'lobby', proxy.wsUrl);
    await printed(alice, 'Joined room: lobby');

    proxy.refuse();
    proxy.cut();
    await printed(alice, '* reconnecting in ');
    alice.child.stdin.write('/quit\n');

    expect(await alice.exited).toBe(0);
  });
});

describe('the terminal client with AUTH_MODE=jwt', () => {
  let server: RunningApp;
  let proxy: TcpProxy;
  let alice: ClientProcess | undefined;
  const listeners: TestClient[] = [];

  beforeEach(async () => {
    server = await startApp({ AUTH_MODE: 'jwt', JWT_SECRET: TEST_SECRET, AUTH_DEFAULT_ROOMS: '*' });
    proxy = await TcpProxy.start(server.port);
  });

  afterEach(async () => {
    if (alice && alice.child.exitCode === null) alice.child.kill('SIGKILL');
    await alice?.exited;
    await Promise.all(listeners.splice(0).map((listener) => listener.close()));
    await proxy.close();
    await server.close();
  });

  it('reconnects with the token it started with, and is the same user in the room again', async () => {
    const bob = await TestClient.connect(server.wsUrl, {
      headers: { authorization: `Bearer ${await signToken({ sub: 'bob' }, TEST_SECRET)}` },
    });
    listeners.push(bob);
    await bob.request({ type: 'join', roomId: 'lobby' }, 'joined');
    const token = await signToken({ sub: 'alice' }, TEST_SECRET);
    alice = startClient(proxy.wsUrl, 'alice', 'lobby', ['--token', token]);
    await printed(alice, 'Joined room: lobby');
    expect(await bob.next('user_joined', 10_000)).toMatchObject({ userId: 'alice' });

    proxy.cut();
    await printed(alice, '* connection closed: 1006 connection lost');
    expect(await bob.next('user_left', 10_000)).toMatchObject({ userId: 'alice' });

    expect(await bob.next('user_joined', RECONNECT_WAIT_MS)).toMatchObject({ userId: 'alice' });
    await printed(alice, 'Reconnected.');
    alice.child.stdin.write('back again\n');
    expect(await bob.next(isChat('back again'), 10_000)).toMatchObject({ userId: 'alice' });
    expect(alice.stdout()).not.toContain(token);
  });
});

describe('the terminal client whose token expires', () => {
  let server: RunningApp;
  let alice: ClientProcess | undefined;

  beforeEach(async () => {
    server = await startApp({
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      AUTH_DEFAULT_ROOMS: '*',
      AUTH_REFRESH_GRACE_MS: 0,
      AUTH_CLOCK_TOLERANCE_MS: 0,
    });
  });

  afterEach(async () => {
    if (alice && alice.child.exitCode === null) alice.child.kill('SIGKILL');
    await alice?.exited;
    await server.close();
  });

  it('after 4001 reconnects as the table says, is refused with 401 for the expired token, and stops', async () => {
    const token = await signToken({ sub: 'alice' }, TEST_SECRET, { expiresIn: 2 });
    alice = startClient(server.wsUrl, 'alice', 'lobby', ['--token', token]);
    await printed(alice, 'Joined room: lobby');
    await printed(alice, '* connection closed: 4001', 10_000);
    await printed(alice, '* the token was refused: start again with a new one', RECONNECT_WAIT_MS);
    expect(await alice.exited).toBe(1);
    expect(alice.stdout()).toContain('* reconnecting in');
  });
});
