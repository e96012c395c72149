import { ConsoleLogger } from '@nestjs/common';
import { joinedFrame } from './support/expected-frames';
import { EchoExtensionModule } from './support/echo-extension';
import { startApp } from './support/test-app';
import { TestClient, refusedUpgradeStatus } from './support/test-client';
import { useApp } from './support/use-app';

/*
 * Nest-shaped extension points: a module of its own (test/support/echo-extension.ts) adds message
 * types and their DTOs with its own `@WebSocketGateway()`, on the default path beside the chat
 * protocol and on a path of its own, without a change to the core modules.
 */

/** Keeps the log lines the app writes (start-up included), dropping them from the console. */
class RecordingLogger extends ConsoleLogger {
  readonly lines: string[] = [];

  override log(message: unknown, context?: string): void {
    this.lines.push(`${context ?? ''}: ${String(message)}`);
  }
  override error(): void {}
  override warn(): void {}
  override debug(): void {}
  override verbose(): void {}
}

describe('gateways', () => {
  const logger = new RecordingLogger();
  const fixture = useApp({}, { imports: [EchoExtensionModule], logger });

  async function connect(path = '/'): Promise<TestClient> {
    const client = await fixture.connect(path);
    // `/ws` greets every authenticated connection (AUTH_MODE=none: at once) with `auth`.
    if (path === '/ws') await client.next('auth');
    return client;
  }

  it.each(['/', '/ws'])(
    'serves an extension type beside the chat protocol at %s, on one connection',
    async (path) => {
      const client = await connect(path);
      expect(await client.request({ type: 'echo', text: 'hello' })).toEqual({
        type: 'echo',
        text: 'hello',
      });
      expect(await client.request({ type: 'join', userId: 'alice', roomId: 'lobby' })).toEqual(
        joinedFrame('alice', 'lobby'),
      );
      expect(await client.request({ type: 'echo', text: 'again' })).toEqual({
        type: 'echo',
        text: 'again',
      });
    },
  );

  it.each(['/', '/ws'])(
    'merges a gateway that names /ws with the default gateways, reached at %s',
    async (path) => {
      const client = await connect(path);
      expect(await client.request({ type: 'whisper', text: 'HUSH' })).toEqual({
        type: 'whisper',
        text: 'hush',
      });
      expect(await client.request({ type: 'echo', text: 'x' })).toEqual({
        type: 'echo',
        text: 'x',
      });
    },
  );

  it('validates an extension message with its DTO through the gateway’s pipe and filter', async () => {
    const client = await connect();
    expect(await client.request({ type: 'echo', text: 7 })).toEqual({
      type: 'error',
      code: 'invalid_message',
      message: expect.stringContaining('text'),
    });
    expect(await client.request({ type: 'echo' })).toMatchObject({
      type: 'error',
      code: 'invalid_message',
    });
    expect(await client.request({ type: 'echo', text: 'still here' })).toEqual({
      type: 'echo',
      text: 'still here',
    });
  });

  it('serves a gateway’s own path with its own types only', async () => {
    const elsewhere = await connect('/extension');
    expect(await elsewhere.request({ type: 'shout', text: 'hey' })).toEqual({
      type: 'shout',
      text: 'HEY',
    });
    for (const type of ['join', 'echo']) {
      expect(await elsewhere.request({ type, userId: 'alice', text: 'x' })).toMatchObject({
        type: 'error',
        code: 'unknown_type',
      });
    }
    const home = await connect('/');
    expect(await home.request({ type: 'shout', text: 'hey' })).toMatchObject({
      type: 'error',
      code: 'unknown_type',
    });
  });

  it('answers bad frames on an extension path from the transport', async () => {
    const elsewhere = await connect('/extension/');
    expect(await elsewhere.request('{nope')).toMatchObject({ code: 'invalid_json' });
    expect(await elsewhere.request(Buffer.from('{}'))).toMatchObject({ code: 'unsupported' });
    expect(await elsewhere.request('{"type":"shout","__proto__":{}}')).toMatchObject({
      code: 'invalid_message',
    });
    expect(await elsewhere.request({ type: 'shout', text: 5 })).toMatchObject({
      code: 'invalid_message',
    });
  });

  it('refuses upgrades at a path without a gateway with 404', async () => {
    for (const path of ['/elsewhere', '/ws/extension', '/extensionx']) {
      expect(await refusedUpgradeStatus(`${fixture.app.wsUrl}${path}`)).toBe(404);
    }
  });

  it('does not close a session on a path without `join` for not joining', async () => {
    const fast = await startApp({ JOIN_TIMEOUT_MS: 50 }, { imports: [EchoExtensionModule] });
    try {
      const elsewhere = await TestClient.connect(`${fast.wsUrl}/extension`);
      const home = await TestClient.connect(fast.wsUrl);
      expect(await home.closed).toEqual({ code: 1008, reason: 'join timeout' });
      // The chat path's deadline has passed several sweeps over: the other session still answers.
      expect(await elsewhere.request({ type: 'shout', text: 'here' })).toMatchObject({
        text: 'HERE',
      });
      elsewhere.terminate();
      await elsewhere.closed;
    } finally {
      await fast.close();
    }
  });

  it('logs the subscribed messages of every gateway, and no reserved pseudo-event', () => {
    const subscribed = logger.lines.filter((line) => line.includes('subscribed to'));
    expect(subscribed).toEqual(
      expect.arrayContaining([
        expect.stringContaining('ChatGateway subscribed to the "join" message'),
        expect.stringContaining('EchoGateway subscribed to the "echo" message'),
        expect.stringContaining('ElsewhereGateway subscribed to the "shout" message'),
      ]),
    );
    expect(subscribed.filter((line) => line.includes('#'))).toEqual([]);
  });
});
