import { createServer, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';

/**
 * How the endpoint answers:
 * - `ok`: the key set;
 * - `error`: HTTP 500;
 * - `stall`: headers and the first bytes of the key set, then nothing (the connection stays open);
 * - `huge`: a 200 whose body is `hugeBytes` of a key set padded with whitespace, streamed without
 *   Content-Length, as fast as the client reads it;
 * - `down`: the connection is destroyed before any answer.
 */
export type JwksMode = 'ok' | 'error' | 'stall' | 'huge' | 'down';

/** A JWKS endpoint on 127.0.0.1 that the test steers, counting the requests it gets. */
export class JwksServer {
  keys: JWK[] = [];
  mode: JwksMode = 'ok';
  fetches = 0;
  hugeBytes = 8 * 1024 * 1024;
  /** Body bytes actually written in `huge` mode (less when the client cut it). */
  hugeWritten = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server = createServer((_request, response) => {
    this.fetches += 1;
    this.answer(response);
  });

  constructor() {
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  /** Stops listening and cuts every connection (a stalled one too). */
  stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(response: ServerResponse): void {
    const body = JSON.stringify({ keys: this.keys });
    switch (this.mode) {
      case 'ok':
        response.setHeader('content-type', 'application/json');
        response.end(body);
        return;
      case 'error':
        response.statusCode = 500;
        response.end('internal error');
        return;
      case 'stall':
        response.setHeader('content-type', 'application/json');
        response.write(body.slice(0, 5));
        return;
      case 'down':
        response.socket?.destroy();
        return;
      case 'huge':
        this.streamHuge(response, body);
        return;
    }
  }

  private streamHuge(response: ServerResponse, body: string): void {
    response.setHeader('content-type', 'application/json');
    this.hugeWritten = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = this.hugeBytes - body.length;
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        this.hugeWritten += piece.length;
        if (!response.write(piece)) {
          response.once('drain', pump);
          return;
        }
      }
      response.end(body);
    };
    response.on('close', () => (left = 0));
    pump();
  }
}
