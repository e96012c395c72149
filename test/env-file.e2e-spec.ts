import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess, spawnServer } from './support/server-process';

/*
 * `npm start` reads `.env` of its working directory when there is one, the environment winning;
 * it logs the names of the settings it took from the file, never their values.
 */

async function stop(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
  }
  await server.exited;
}

describe('a server started beside a .env file', () => {
  let folder: string;

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'env-file-e2e-'));
  });
  afterEach(() => rm(folder, { recursive: true, force: true }));

  it('takes the settings of the file, the environment winning, and logs their names only', async () => {
    const secret = 'a-secret-from-the-env-file-0123456789abcdef';
    const apiKey = 'an-api-key-from-the-env-file-0123';
    await writeFile(
      join(folder, '.env'),
      `AUTH_MODE=jwt\nJWT_SECRET=${secret}\nAPI_KEY="${apiKey}"\nPORT=1\n`,
    );
    // spawnServer sets PORT=0 in the environment: it wins over the file's PORT=1.
    const server = spawnServer({}, undefined, { cwd: folder });
    try {
      const port = await server.port;
      expect(port).not.toBe(1);
      expect(server.output()).toContain('Settings from .env: API_KEY, AUTH_MODE, JWT_SECRET');
      expect(server.output()).toContain('auth AUTH_MODE=jwt (tokens verified with JWT_SECRET)');
      expect(server.output()).not.toContain(secret);
      expect(server.output()).not.toContain(apiKey);
      // The socket wants a token now; the contract is served wherever the server runs from.
      const contract = await fetch(`http://127.0.0.1:${port}/contract/schema.json`);
      expect(contract.status).toBe(200);
    } finally {
      await stop(server);
    }
  });

  it('starts as before without one', async () => {
    const server = spawnServer({}, undefined, { cwd: folder });
    try {
      await server.port;
      expect(server.output()).not.toContain('Settings from');
      expect(server.output()).toContain('auth AUTH_MODE=none');
    } finally {
      await stop(server);
    }
  });
});
