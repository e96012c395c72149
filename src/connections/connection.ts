import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ServerFrame } from '../chat/chat.protocol';

const OPEN = 1;

/**
 * One client socket and its session state. The only code that writes to a socket: services hold
 * Connections, never sockets.
 */
export class Connection {
  readonly id = randomUUID();
  readonly connectedAt = new Date();
  /** Bound by the first successful join; later messages must name the same user. */
  userId: string | undefined;
  /** The one room this connection is in, if any. */
  roomId: string | undefined;
  /** Resolves when the socket has closed, however it closed. */
  readonly closed: Promise<void>;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly socket: WebSocket,
    readonly remoteAddress: string,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  get isOpen(): boolean {
    return this.socket.readyState === OPEN;
  }

  /** Sends an already serialized frame; a closing or closed socket drops it silently. */
  send(payload: string): void {
    if (this.isOpen) this.socket.send(payload);
  }

  sendFrame(frame: ServerFrame): void {
    this.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  terminate(): void {
    this.socket.terminate();
  }

  /**
   * Runs `op` after every earlier op of this connection has settled, so the session's state
   * changes (join, switch, chat, leave on close) apply in the order they were asked for even when
   * a store or broker call is asynchronous. A failed op does not stop later ones.
   */
  serialize<T>(op: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(op);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
