import WebSocket, { ClientOptions, RawData } from 'ws';

/** A frame as a client sees it: any JSON object the server sent. */
export type Frame = Record<string, unknown> & { type: string };
export type FramePredicate = (frame: Frame) => boolean;

export interface CloseInfo {
  code: number;
  reason: string;
}

const DEFAULT_WAIT_MS = 3000;

/**
 * A real `ws` client for end-to-end tests. Received frames queue up in `inbox`; `next` takes the
 * first matching one (waiting for it if needed) and leaves the others for later assertions.
 */
export class TestClient {
  readonly inbox: Frame[] = [];
  readonly closed: Promise<CloseInfo>;
  private waiters: { predicate: FramePredicate; resolve: (frame: Frame) => void }[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const frame = JSON.parse(isBinary ? '{"type":"<binary>"}' : rawToString(data)) as Frame;
      const waiter = this.waiters.find((w) => w.predicate(frame));
      if (waiter) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(frame);
      } else {
        this.inbox.push(frame);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', (code: number, reason: Buffer) =>
        resolve({ code, reason: reason.toString() }),
      ),
    );
  }

  /** Opens a connection to `url` (path and query included) and waits until it is open. */
  static connect(url: string, options?: ClientOptions): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    const client = new TestClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)),
      );
    });
  }

  /** Sends an object as JSON, or a string / Buffer as it is (a Buffer goes as a binary frame). */
  send(message: object | string | Buffer): void {
    if (Buffer.isBuffer(message)) this.socket.send(message, { binary: true });
    else this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first received frame matching `predicate` (or of the given type); waits up to `timeoutMs`. */
  next(match?: string | FramePredicate, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame> {
    const predicate: FramePredicate =
      match === undefined
        ? () => true
        : typeof match === 'string'
          ? (f) => f.type === match
          : match;
    const index = this.inbox.findIndex(predicate);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (frame: Frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = JSON.stringify(this.inbox);
        reject(
          new Error(`no frame matching ${String(match)} within ${timeoutMs} ms; inbox: ${seen}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends `message` and returns the next frame matching `match`. */
  request(message: object | string | Buffer, match?: string | FramePredicate): Promise<Frame> {
    const reply = this.next(match);
    this.send(message);
    return reply;
  }

  /** Frames received and not yet taken by `next`, of the given type if one is named. */
  unread(type?: string): Frame[] {
    return type === undefined ? [...this.inbox] : this.inbox.filter((f) => f.type === type);
  }

  async close(): Promise<CloseInfo> {
    if (
      this.socket.readyState === WebSocket.OPEN ||
      this.socket.readyState === WebSocket.CONNECTING
    ) {
      this.socket.close();
    }
    return this.closed;
  }

  terminate(): void {
    this.socket.terminate();
  }
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

/** Opens a client and joins: resolves after its `joined` frame. */
export async function joinedClient(
  wsUrl: string,
  userId: string,
  roomId?: string,
): Promise<TestClient> {
  const client = await TestClient.connect(wsUrl);
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
