import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { ChatError } from '../../src/protocol/chat-error';
import { ErrorCode } from '../../src/protocol/error-code';
import { Session, SessionContext } from '../../src/transport/session';

/** The socket side of a Session for unit and port tests: records the frames written to it. */
export class RecordingSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  paused = false;
  readonly sent: Record<string, unknown>[] = [];

  send(payload: string | Buffer): void {
    this.sent.push(JSON.parse(payload.toString()) as Record<string, unknown>);
  }

  /** Receives a text frame from the client side. */
  receive(text: string): void {
    this.emit('message', Buffer.from(text), false);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(): void {
    this.readyState = 3;
    this.emit('close');
  }

  terminate(): void {
    this.close();
  }
}

/**
 * A RecordingSocket whose writes stay buffered (`bufferedAmount`) until `flush`, which hands them
 * to the network: then their write callbacks run.
 */
export class BufferingSocket extends RecordingSocket {
  private written: (() => void)[] = [];

  override send(payload: string | Buffer, _options?: unknown, callback?: () => void): void {
    super.send(payload);
    this.bufferedAmount += Buffer.byteLength(payload);
    if (callback) this.written.push(callback);
  }

  flush(): void {
    this.bufferedAmount = 0;
    for (const callback of this.written.splice(0)) callback();
  }
}

const CONTEXT: SessionContext = {
  limits: {
    maxBufferedBytes: 1 << 20,
    abuseErrorsMax: 20,
    abuseWindowMs: 5000,
    maxInboundQueue: 64,
    ratePerSecond: 1000,
    rateBurst: 1000,
    costs: new Map(),
  },
  slots: { release: () => undefined },
  owner: { evicted: () => undefined, closed: () => undefined },
  rateLimited: new ChatError(ErrorCode.RateLimited, 'rate limit exceeded'),
  stalls: { stalledBetween: () => 0 },
};

/** A real Session over a RecordingSocket, optionally already bound to a user. */
export function recordedSession<S extends RecordingSocket = RecordingSocket>(
  userId?: string,
  context: Partial<SessionContext> = {},
  socket: S = new RecordingSocket() as S,
): { session: Session; socket: S } {
  const session = new Session(socket as unknown as WebSocket, '127.0.0.1', new Set(), {
    ...CONTEXT,
    ...context,
  });
  session.userId = userId;
  return { session, socket };
}
