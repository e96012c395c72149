import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './support/eventually';
import { isChat } from './support/expected-frames';
import { RunningApp, startApp } from './support/test-app';
import { TestClient, joinedClient } from './support/test-client';

/*
 * The terminal client (`npm run client`, scripts/chat-client.ts) as a process against the real
 * app: fed by a pipe, as `printf 'hi\n' | npm run -s client -- URL` feeds it, or line by line.
 */

const ROOT = join(__dirname, '..');

interface ClientProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  exited: Promise<number | null>;
}

/** Starts `npm run client -- URL --user USER --room ROOM` with its stdin a pipe. */
function startClient(url: string, userId: string, roomId: string): ClientProcess {
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      'scripts/chat-client.ts',
      url,
      '--user',
      userId,
      '--room',
      roomId,
    ],
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

describe('the terminal client', () => {
  let server: RunningApp;
  const clients: TestClient[] = [];
  const processes: ClientProcess[] = [];

  beforeEach(async () => {
    server = await startApp({ ABUSE_ERRORS_MAX: 1 });
  });

  afterEach(async () => {
    for (const process of processes.splice(0)) {
      if (process.child.exitCode === null) process.child.kill('SIGKILL');
      await process.exited;
    }
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server.close();
  });

  async function listener(userId: string, roomId: string): Promise<TestClient> {
    const client = await joinedClient(server.wsUrl, userId, roomId);
    clients.push(client);
    return client;
  }

  function client(userId: string, roomId: string): ClientProcess {
    const started = startClient(server.wsUrl, userId, roomId);
    processes.push(started);
    return started;
  }

  /** Resolves once the client has printed a line containing `text`. */
  function printed(process: ClientProcess, text: string): Promise<string> {
    return eventually(
      () => `the client to print "${text}"; it printed:\n${process.stdout()}`,
      () => process.stdout().includes(text),
    ).then(() => process.stdout());
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
});
