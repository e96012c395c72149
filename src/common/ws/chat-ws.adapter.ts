import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { IncomingMessage, STATUS_CODES, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Observable, concatMap, filter, first, fromEvent, share, takeUntil } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import { AppConfig } from '../../config/app-config';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { MessageParser } from './message-parser';

/** Paths at which WebSocket upgrades are accepted; both serve the same gateway. */
export const WS_PATHS: ReadonlySet<string> = new Set(['/', '/ws']);

export interface ChatWsAdapterOptions {
  config: AppConfig;
  shutdown: ShutdownState;
  messageParser: MessageParser;
}

type Transform = (data: unknown) => Observable<unknown>;

/**
 * The WebSocket transport: one `ws` server on the HTTP server's port, with
 * - upgrades accepted at `/` and `/ws` and refused with 503 while draining,
 * - inbound frames capped at MAX_PAYLOAD_BYTES (ws closes with 1009) and compression off,
 * - a heartbeat that terminates connections which missed a pong,
 * - one client's frames handled strictly one after another, in arrival order.
 */
export class ChatWsAdapter extends WsAdapter {
  private readonly log = new Logger(ChatWsAdapter.name);
  private readonly heartbeats = new Map<WebSocketServer, NodeJS.Timeout>();

  constructor(
    app: INestApplicationContext,
    private readonly options: ChatWsAdapterOptions,
  ) {
    super(app, { messageParser: options.messageParser });
  }

  override create(port: number): WebSocketServer {
    const httpServer = this.httpServer as HttpServer | undefined;
    if (port !== 0 || !httpServer) {
      throw new Error('ChatWsAdapter serves gateways on the HTTP port only: leave the port unset');
    }
    if (this.heartbeats.size > 0) throw new Error('ChatWsAdapter serves a single gateway');
    const server = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.config.MAX_PAYLOAD_BYTES,
      perMessageDeflate: false,
    });
    this.bindErrorHandler(server);
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(server, request, socket, head),
    );
    this.startHeartbeat(server);
    return server;
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: Transform,
  ): void {
    const handlersMap = new Map(handlers.map((handler) => [handler.message as string, handler]));
    const close$ = fromEvent(client, 'close').pipe(share(), first());
    // concatMap, where the stock adapter has mergeMap: a frame is handled only after the previous
    // one of the same client finished, so replies and state changes keep the client's order.
    fromEvent(client, 'message')
      .pipe(
        concatMap((event) =>
          (this.bindMessageHandler(event, handlersMap, transform) as Observable<unknown>).pipe(
            filter((result) => result !== undefined && result !== null),
          ),
        ),
        takeUntil(close$),
      )
      .subscribe((response) => {
        if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify(response));
      });
  }

  /** Socket errors are the client's (oversized frame, invalid UTF-8, reset): one debug line, no
   * stack. Without a listener ws would raise an unhandled 'error' and end the process. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (ws: WebSocket) =>
      ws.on('error', (error: Error & { code?: string }) =>
        this.log.debug(`Socket error ${error.code ?? error.name}: ${error.message}`),
      ),
    );
    server.on('error', (error: Error) => this.log.error(error));
    return server;
  }

  override async close(server: WebSocketServer): Promise<void> {
    clearInterval(this.heartbeats.get(server));
    this.heartbeats.delete(server);
    // Clients were sent 1012 during the drain (ConnectionRegistry); whatever remains is cut.
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private upgrade(
    server: WebSocketServer,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    // A reset during the handshake must not become an unhandled 'error' event.
    socket.on('error', () => socket.destroy());
    if (!WS_PATHS.has(pathOf(request.url))) return refuse(socket, 404);
    if (this.options.shutdown.draining) return refuse(socket, 503);
    server.handleUpgrade(request, socket, head, (ws) => server.emit('connection', ws, request));
  }

  /** Pings every client each interval; a client that has not answered the previous ping is cut. */
  private startHeartbeat(server: WebSocketServer): void {
    const awaitingPong = new WeakSet<WebSocket>();
    server.on('connection', (ws: WebSocket) => ws.on('pong', () => awaitingPong.delete(ws)));
    const timer = setInterval(() => {
      for (const ws of server.clients) {
        if (awaitingPong.has(ws)) {
          this.log.debug('Terminating a connection that missed its pong');
          ws.terminate();
          continue;
        }
        awaitingPong.add(ws);
        ws.ping();
      }
    }, this.options.config.HEARTBEAT_INTERVAL_MS);
    timer.unref();
    this.heartbeats.set(server, timer);
  }
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  const path = query === -1 ? raw : raw.slice(0, query);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Answers an upgrade request with a plain HTTP error before any WebSocket exists. */
function refuse(socket: Duplex, status: number): void {
  const body = STATUS_CODES[status] ?? 'Error';
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${body}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
