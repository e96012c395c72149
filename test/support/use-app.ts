import type { ClientOptions } from 'ws';
import type { AppConfig } from '../../src/config/app-config';
import { RunningApp, StartAppOptions, startApp } from './test-app';
import { TestClient, joinedClient } from './test-client';

export interface UseAppOptions extends StartAppOptions {
  /**
   * `file` (the default): one app for the enclosing `describe`, started before its first test and
   * closed after its last. `test`: each test starts its own with `start()`, closed after it.
   */
  per?: 'file' | 'test';
}

/** The app of a `describe` and the clients its tests open, all closed by the fixture's hooks. */
export interface AppFixture {
  /** The running app; fails when none is started. */
  readonly app: RunningApp;
  /** Starts the app with the fixture's settings, `overrides` on top (per test). */
  start(overrides?: Partial<AppConfig>, options?: StartAppOptions): Promise<RunningApp>;
  /** A client connected to `path` of the app, closed after the test. */
  connect(path?: string, options?: ClientOptions): Promise<TestClient>;
  /** A client joined to `roomId` as `userId`, closed after the test. */
  member(userId: string, roomId?: string): Promise<TestClient>;
}

/**
 * The real app on a free port for the tests of the enclosing `describe`, with `settings`: call
 * it in the `describe`'s body. After each test the clients it opened are terminated (and their
 * close awaited); the app is closed after the test or after the block, as `per` says.
 */
export function useApp(settings: Partial<AppConfig> = {}, options: UseAppOptions = {}): AppFixture {
  const { per = 'file', ...startOptions } = options;
  let running: RunningApp | undefined;
  const clients: TestClient[] = [];

  const fixture: AppFixture = {
    get app(): RunningApp {
      if (!running) throw new Error('no app started');
      return running;
    },
    async start(overrides = {}, more = {}) {
      if (running) throw new Error('the app is already started');
      running = await startApp({ ...settings, ...overrides }, { ...startOptions, ...more });
      return running;
    },
    async connect(path = '/', clientOptions) {
      const client = await TestClient.connect(`${fixture.app.wsUrl}${path}`, clientOptions);
      clients.push(client);
      return client;
    },
    async member(userId, roomId) {
      const client = await joinedClient(fixture.app.wsUrl, userId, roomId);
      clients.push(client);
      return client;
    },
  };

  const close = async (): Promise<void> => {
    const app = running;
    running = undefined;
    await app?.close();
  };
  if (per === 'file') {
    beforeAll(() => fixture.start());
    afterAll(close);
  }
  afterEach(async () => {
    const open = clients.splice(0);
    for (const client of open) client.terminate();
    await Promise.all(open.map((client) => client.closed));
    if (per === 'test') await close();
  });
  return fixture;
}
