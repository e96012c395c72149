import { Socket, connect } from 'node:net';

/** A plain TCP client, for HTTP the way an attacker writes it: raw, pipelined, slow or silent. */
export interface RawSocket {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Settles when the socket is closed (by either side, or reset). */
  readonly closed: Promise<void>;
}

export interface RawSocketOptions {
  /** Source address, e.g. '127.0.0.2': every 127.0.0.0/8 address is a distinct client IP. */
  localAddress?: string;
}

/** Connects to 127.0.0.1:`port`; resolves once connected. Errors (resets) only close it. */
export function rawSocket(port: number, options: RawSocketOptions = {}): Promise<RawSocket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: options.localAddress });
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Number of HTTP responses in `text` (status lines), and of those with the given status. */
export function countResponses(text: string, status?: number): number {
  const pattern =
    status === undefined ? /HTTP\/1\.1 \d{3} /g : new RegExp(`HTTP/1\\.1 ${status} `, 'g');
  return text.match(pattern)?.length ?? 0;
}
