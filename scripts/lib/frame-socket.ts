import WebSocket, { ClientOptions, RawData } from 'ws';
import { parseFrame, rawToString } from './frames';

/**
 * A frame as a client sees it: any JSON object the server sent with a string `type`. Anything
 * else (not JSON, not an object, no type, a binary message) is queued as `{type: "#not_json",
 * raw}`, so that it shows up in failure messages instead of throwing inside the socket.
 */
export type Frame = Record<string, unknown> & { type: string };
export type FramePredicate = (frame: Frame) => boolean;
/** What `next` waits for: a frame type, a predicate, or a predicate named for failure messages. */
export type FrameMatch = string | FramePredicate | { what: string; matches: FramePredicate };

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface FrameSocketOptions extends ClientOptions {
  /** How long `next` waits by default, and how long `close` waits for the closing handshake. */
  timeoutMs?: number;
  /** Subprotocols to offer (`['bearer', token]`, as a browser passes its token). */
  protocols?: string[];
}

const DEFAULT_WAIT_MS = 3000;

interface Waiter {
  matches: FramePredicate;
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
}

/**
 * The one WebSocket client of the tests (`test/support/test-client.ts` re-exports it as
 * `TestClient`) and of the scripted checks (`npm run smoke`). Received frames queue up in `inbox`;
 * `next` takes the first matching one (waiting for it, bounded) and leaves the others, so a check
 * can later look for frames that should not have arrived. A close rejects every pending `next` at
 * once, naming the close code, instead of letting it run into its timeout.
 */
export class FrameSocket {
  readonly inbox: Frame[] = [];
  /** Resolves when the connection is open; rejects if it could not be opened. */
  readonly ready: Promise<void>;
  readonly closed: Promise<CloseInfo>;
  private waiters: Waiter[] = [];
  private closeInfo: CloseInfo | undefined;

  private constructor(
    readonly socket: WebSocket,
    private readonly timeoutMs: number,
  ) {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const text = rawToString(data);
      const parsed = isBinary ? undefined : parseFrame(text);
      this.receive(
        parsed && typeof parsed.type === 'string'
          ? (parsed as Frame)
          : { type: '#not_json', raw: isBinary ? `<binary> ${text}` : text },
      );
    });
    // Failures surface through `ready` and `closed`; without a listener ws would throw.
    socket.on('error', () => undefined);
    this.ready = new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', (error) => reject(new Error(`cannot connect: ${error.message}`)));
      socket.once('unexpected-response', (_request, response) =>
        reject(new Error(`upgrade refused with HTTP ${response.statusCode}`)),
      );
    });
    // A connection closed before use must not become an unhandled rejection.
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const waiter of this.waiters) {
          waiter.reject(new Error(`connection closed (${code}) while waiting; ${this.seen()}`));
        }
        this.waiters = [];
        resolve(this.closeInfo);
      }),
    );
  }

  /**
   * Starts connecting to `url` (path and query included); `ready` settles once the connection is
   * open or has failed. A number is the timeout, used for the handshake as well.
   */
  static open(url: string, options: number | FrameSocketOptions = {}): FrameSocket {
    const {
      timeoutMs = DEFAULT_WAIT_MS,
      protocols,
      ...clientOptions
    }: FrameSocketOptions = typeof options === 'number'
      ? { timeoutMs: options, handshakeTimeout: options }
      : options;
    return new FrameSocket(new WebSocket(url, protocols, clientOptions), timeoutMs);
  }

  /** Opens a connection and waits until it is open. */
  static async connect(url: string, options?: number | FrameSocketOptions): Promise<FrameSocket> {
    const socket = FrameSocket.open(url, options);
    await socket.ready;
    return socket;
  }

  /** Sends an object as JSON text, a string as it is, a Buffer as a binary frame. */
  send(message: object | string | Buffer): void {
    if (Buffer.isBuffer(message)) this.socket.send(message, { binary: true });
    else this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first received frame matching `match` (any frame if none is given); waits up to `timeoutMs`. */
  next(match?: FrameMatch, timeoutMs = this.timeoutMs): Promise<Frame> {
    const { what, matches } = describeMatch(match);
    const index = this.inbox.findIndex(matches);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0]);
    if (this.closeInfo) {
      return Promise.reject(
        new Error(`no ${what}: connection closed (${this.closeInfo.code}); ${this.seen()}`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        matches,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${what} within ${timeoutMs} ms; ${this.seen()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends `message` and returns the next frame matching `match`. */
  request(message: object | string | Buffer, match?: FrameMatch): Promise<Frame> {
    const reply = this.next(match);
    this.send(message);
    return reply;
  }

  /** Frames received and not yet taken by `next`, of the given type if one is named. */
  unread(type?: string): Frame[] {
    return type === undefined ? [...this.inbox] : this.inbox.filter((f) => f.type === type);
  }

  /**
   * Closes (with `code` and `reason` if given) and waits for the closing handshake; terminates
   * if the server does not answer it in time.
   */
  async close(code?: number, reason?: string): Promise<CloseInfo> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
    else if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    const timer = setTimeout(() => this.socket.terminate(), this.timeoutMs);
    try {
      return await this.closed;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drops the connection without a closing handshake. */
  terminate(): void {
    this.socket.terminate();
  }

  private receive(frame: Frame): void {
    const waiter = this.waiters.find((w) => w.matches(frame));
    if (!waiter) {
      this.inbox.push(frame);
      return;
    }
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.resolve(frame);
  }

  private seen(): string {
    return `unread frames: ${JSON.stringify(this.inbox)}`;
  }
}

function describeMatch(match: FrameMatch | undefined): { what: string; matches: FramePredicate } {
  if (match === undefined) return { what: 'frame', matches: () => true };
  if (typeof match === 'string')
    return { what: `"${match}" frame`, matches: (f) => f.type === match };
  if (typeof match === 'function')
    return { what: `frame matching ${String(match)}`, matches: match };
  return match;
}
