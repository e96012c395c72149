import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { Connection } from '../../src/transport/connection';

/** The socket side of a Connection for unit and port tests: records the frames written to it. */
export class RecordingSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: Record<string, unknown>[] = [];

  send(payload: string | Buffer): void {
    this.sent.push(JSON.parse(payload.toString()) as Record<string, unknown>);
  }

  close(): void {
    this.readyState = 3;
    this.emit('close');
  }

  terminate(): void {
    this.close();
  }
}

const LIMITS = { maxBufferedBytes: 1 << 20, abuseErrorsMax: 20, abuseWindowMs: 5000 };

/** A real Connection over a RecordingSocket, optionally already bound to a user. */
export function recordedConnection(userId?: string): {
  connection: Connection;
  socket: RecordingSocket;
} {
  const socket = new RecordingSocket();
  const connection = new Connection(socket as unknown as WebSocket, '127.0.0.1', LIMITS);
  connection.userId = userId;
  return { connection, socket };
}
