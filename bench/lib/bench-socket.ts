import { randomBytes } from 'node:crypto';
import { Socket, connect } from 'node:net';

/** Receives the payload of one text frame as `buffer[start, end)`; valid during the call only. */
export type TextHandler = (buffer: Buffer, start: number, end: number) => void;

const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const FIN = 0x80;
const MASKED = 0x80;
const HEADER_END = Buffer.from('\r\n\r\n');
const CLOSE_NORMAL = Buffer.from([0x03, 0xe8]);
const MAX_HANDSHAKE_BYTES = 16 * 1024;

/**
 * A minimal WebSocket client for load generation: one text frame per message, no extensions, no
 * UTF-8 validation, and frames read in place from the TCP chunk. A `ws` client emits an event and
 * copies a Buffer per frame; at 100k frames/s on one core that cost would make the generator, not
 * the server, the bottleneck. Client frames are masked, as RFC 6455 requires, with the all-zero
 * key, which leaves the payload as it is and saves the XOR.
 */
export class BenchSocket {
  onText: TextHandler = () => undefined;
  /** Called once when the TCP connection is gone, however it ended. */
  onClose: (hadCloseFrame: boolean) => void = () => undefined;
  private rest: Buffer | undefined;
  private closeSent = false;
  private closeReceived = false;
  private readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.onClose(this.closeReceived);
        resolve();
      });
    });
    socket.on('error', () => socket.destroy());
  }

  /** Opens a connection and completes the handshake, or rejects (refused, non-101, timeout). */
  static connect(host: string, port: number, path = '/', timeoutMs = 10_000): Promise<BenchSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => fail(new Error('handshake timeout')), timeoutMs);
      let head: Buffer = Buffer.alloc(0);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const onData = (chunk: Buffer): void => {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf(HEADER_END);
        if (end === -1) {
          if (head.length > MAX_HANDSHAKE_BYTES) fail(new Error('handshake response too long'));
          return;
        }
        const statusLine = head.toString('latin1', 0, head.indexOf('\r\n'));
        if (!statusLine.startsWith('HTTP/1.1 101')) return fail(new Error(statusLine));
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('close', onEarlyClose);
        const client = new BenchSocket(socket);
        socket.on('data', (data: Buffer) => client.read(data));
        resolve(client);
        if (head.length > end + 4) client.read(head.subarray(end + 4));
      };
      const onEarlyClose = (): void => fail(new Error('closed during handshake'));
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('close', onEarlyClose);
      socket.once('connect', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
            'Sec-WebSocket-Version: 13\r\n\r\n',
        );
      });
    });
  }

  get isOpen(): boolean {
    return !this.socket.destroyed && !this.closeSent && !this.closeReceived;
  }

  /** Sends one text frame. */
  send(text: string): void {
    const length = Buffer.byteLength(text);
    const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(header + 4 + length);
    this.writeHeader(frame, OPCODE_TEXT, length);
    frame.writeUInt32BE(0, header);
    frame.write(text, header + 4);
    this.socket.write(frame);
  }

  /** Starts the closing handshake and resolves when the TCP connection has ended. */
  close(timeoutMs = 5_000): Promise<void> {
    if (!this.closeSent && !this.socket.destroyed) this.sendControl(OPCODE_CLOSE, CLOSE_NORMAL);
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    return this.closed.finally(() => clearTimeout(timer));
  }

  /** Drops the TCP connection without a closing handshake. */
  destroy(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    const buffer = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      const available = buffer.length - offset;
      if (available < 2) break;
      const second = buffer[offset + 1];
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (available < 4) break;
        length = buffer.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (available < 10) break;
        length = Number(buffer.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if ((second & MASKED) !== 0) {
        // Servers never mask; a masked frame means the stream is not what we think.
        this.socket.destroy();
        return;
      }
      if (available < header + length) break;
      const start = offset + header;
      offset = start + length;
      this.frame(buffer[start - header] & 0x0f, buffer, start, offset);
    }
    this.rest = offset < buffer.length ? buffer.subarray(offset) : undefined;
  }

  private frame(opcode: number, buffer: Buffer, start: number, end: number): void {
    if (opcode === OPCODE_TEXT) return this.onText(buffer, start, end);
    if (opcode === OPCODE_PING) return this.sendControl(0xa, buffer.subarray(start, end));
    if (opcode === OPCODE_CLOSE) {
      this.closeReceived = true;
      if (!this.closeSent) this.sendControl(OPCODE_CLOSE, buffer.subarray(start, end));
      this.socket.end();
    }
  }

  private sendControl(opcode: number, payload: Buffer): void {
    if (opcode === OPCODE_CLOSE) this.closeSent = true;
    const frame = Buffer.alloc(2 + 4 + payload.length);
    this.writeHeader(frame, opcode, payload.length);
    payload.copy(frame, 6);
    this.socket.write(frame);
  }

  private writeHeader(frame: Buffer, opcode: number, length: number): void {
    frame[0] = FIN | opcode;
    if (length < 126) {
      frame[1] = MASKED | length;
    } else if (length < 65_536) {
      frame[1] = MASKED | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = MASKED | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
  }
}
