import WebSocket, { ClientOptions } from 'ws';
import { FrameSocket } from '../../scripts/lib/frame-socket';

export type {
  CloseInfo,
  Frame,
  FrameMatch,
  FramePredicate,
  FrameSocketOptions,
} from '../../scripts/lib/frame-socket';

/**
 * The real `ws` client of the end-to-end tests: the one client the scripts use as well
 * (`scripts/lib/frame-socket.ts`), under the name the specs know. `TestClient.connect(url,
 * options)` opens and waits; `next`, `request`, `unread`, `inbox`, `close`, `closed`, `socket` and
 * `terminate` are as they were.
 */
export { FrameSocket as TestClient };

/** Opens a client and joins: resolves after its `joined` frame. */
export async function joinedClient(
  wsUrl: string,
  userId: string,
  roomId?: string,
): Promise<FrameSocket> {
  const client = await FrameSocket.connect(wsUrl);
  await client.request({ type: 'join', userId, ...(roomId ? { roomId } : {}) }, 'joined');
  return client;
}

/**
 * Attempts an upgrade that the server should refuse; resolves with the HTTP status of the refusal
 * and rejects if a WebSocket opens.
 */
export function refusedUpgradeStatus(url: string, options?: ClientOptions): Promise<number> {
  const socket = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.terminate();
      reject(new Error(`upgrade at ${url} was accepted`));
    });
    socket.once('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      request.destroy();
    });
    socket.on('error', (error) => reject(error));
  });
}
