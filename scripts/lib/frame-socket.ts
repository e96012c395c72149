import WebSocket, { RawData } from 'ws';
import { Frame, parseFrame, rawToString } from './frames';

export interface CloseInfo {
  code: number;
  reason: string;
}

interface Waiter {
  matches: (frame: Frame) => boolean;
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
}

/**
 * A client connection for scripted checks. Received frames queue up; `next` takes the first one
 * that matches (waiting at most `timeoutMs`) and leaves the others, so a check can later look for
 * frames that should not have arrived. A frame that is not a JSON object is queued as
 * `{type: "#not_json", raw}` so that it shows up in failure messages.
 */
export class FrameSocket {
  /** Resolves when the connection is open; rejects if it could not be opened. */
  readonly ready: Promise<void>;
  readonly closed: Promise<CloseInfo>;
  private readonly inbox: Frame[] = [];
  private waiters: Waiter[] = [];
  private closeInfo: CloseInfo | undefined;

  private constructor(
    private readonly socket: WebSocket,
    private readonly timeoutMs: number,
  ) {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const text = rawToString(data);
      this.receive((!isBinary && parseFrame(text)) || { type: '#not_json', raw: text });
    });
    // Failures surface through `ready` and `closed`; without a listener ws would throw.
    socket.on('error', () => undefined);
    this.ready = new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', (error) => reject(new Error(`cannot connect: ${error.message}`)));
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

  /** Starts connecting; `ready` settles once the connection is open or has failed. */
  static open(url: string, timeoutMs: number): FrameSocket {
    return new FrameSocket(new WebSocket(url, { handshakeTimeout: timeoutMs }), timeoutMs);
  }

  /** Sends an object as JSON text, a string as it is, a Buffer as a binary frame. */
  send(message: object | string | Buffer): void {
    if (Buffer.isBuffer(message)) this.socket.send(message, { binary: true });
    else this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first received frame that `matches`; `what` names it in the error on a timeout. */
  next(what: string, matches: (frame: Frame) => boolean): Promise<Frame> {
    const index = this.inbox.findIndex(matches);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0]);
    if (this.closeInfo) {
      return Promise.reject(
        new Error(`connection closed (${this.closeInfo.code}); ${this.seen()}`),
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
        reject(new Error(`no ${what} within ${this.timeoutMs} ms; ${this.seen()}`));
      }, this.timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends `message`, then takes the next frame of type `type`. */
  request(message: object | string | Buffer, type: string): Promise<Frame> {
    const reply = this.next(`"${type}" frame`, (frame) => frame.type === type);
    this.send(message);
    return reply;
  }

  /** Frames received and not taken by `next`. */
  unread(): Frame[] {
    return [...this.inbox];
  }

  /** Closes with 1000 and waits for the closing handshake; terminates if it takes too long. */
  async close(): Promise<CloseInfo> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000, 'smoke test done');
    else if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    const timer = setTimeout(() => this.socket.terminate(), this.timeoutMs);
    try {
      return await this.closed;
    } finally {
      clearTimeout(timer);
    }
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
