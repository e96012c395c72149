import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ErrorFrame, ServerFrame } from '../protocol/chat.protocol';
import { CloseCode } from '../protocol/close-codes';

const OPEN = 1;
const CLOSED = 3;
const TEXT = { binary: false } as const;

/** The limits one connection is held to. */
export interface ConnectionLimits {
  /** Outbound bytes queued in the socket beyond which the client counts as too slow. */
  maxBufferedBytes: number;
  /** Error frames allowed within `abuseWindowMs`; one more evicts the connection. */
  abuseErrorsMax: number;
  abuseWindowMs: number;
}

/** Called when the server decides to close a connection, before its socket has finished closing. */
export type EvictionListener = (connection: Connection) => void;

/**
 * One client socket and its session state. The only code that writes to a socket: services hold
 * Connections, never sockets.
 */
export class Connection {
  readonly id = randomUUID();
  /** Epoch ms of the upgrade. */
  readonly connectedAt = Date.now();
  /** Bound by the first successful join; later messages must name the same user. */
  userId: string | undefined;
  /** The one room this connection is in, if any. */
  roomId: string | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private evicted = false;
  /** Times of recent error frames; created by the first one (most connections never err). */
  private errorTimes: number[] | undefined;

  constructor(
    private readonly socket: WebSocket,
    readonly remoteAddress: string,
    private readonly limits: ConnectionLimits,
    private readonly onEvict: EvictionListener = () => undefined,
  ) {}

  /** Resolves when the socket has closed, however it closed. Made on demand: an idle connection
   * holds no promise for it. */
  whenClosed(): Promise<void> {
    if (this.socket.readyState === CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** Open and not being evicted: frames sent now are written. */
  get isOpen(): boolean {
    return !this.evicted && this.socket.readyState === OPEN;
  }

  /** Bytes written to this socket and not yet handed to the network. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Sends an already serialized frame (a Buffer is sent as a text frame: a broadcast encodes its
   * UTF-8 once for all receivers); a closing socket drops it. Never blocks and never queues
   * without bound: a client whose backlog passes the limit is closed with 1013.
   */
  send(payload: string | Buffer): void {
    if (!this.isOpen) return;
    this.socket.send(payload, TEXT);
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.evict(CloseCode.TryAgainLater, 'slow consumer');
    }
  }

  sendFrame(frame: ServerFrame): void {
    this.send(JSON.stringify(frame));
  }

  /** Sends an error frame; a client that causes too many in the window is closed with 1008. */
  sendError(frame: ErrorFrame, now = Date.now()): void {
    this.sendFrame(frame);
    const times = (this.errorTimes ??= []);
    times.push(now);
    while (times.length > 0 && times[0] <= now - this.limits.abuseWindowMs) times.shift();
    if (times.length > this.limits.abuseErrorsMax) {
      this.evict(CloseCode.PolicyViolation, 'too many errors');
    }
  }

  /**
   * Closes the connection on the server's initiative. It stops receiving frames at once and the
   * eviction listener lets it leave its room now, not when the (possibly stuck) client answers.
   */
  evict(code: CloseCode, reason: string): void {
    if (this.evicted) return;
    this.evicted = true;
    this.socket.close(code, reason);
    this.onEvict(this);
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
