import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { IncomingMessage, STATUS_CODES, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { isObservable, lastValueFrom } from 'rxjs';
import { RawData, ServerOptions, WebSocket, WebSocketServer } from 'ws';
import { AppConfig } from '../config/app-config';
import { ErrorCode } from '../protocol/error-code';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { HandshakeGuard } from './handshake-guard';
import { MessageParser, PROTOCOL_ERROR_EVENT, ParsedMessage } from './message-parser';
import { TokenBucket } from './token-bucket';

/** Paths at which WebSocket upgrades are accepted; both serve the same gateway. */
export const WS_PATHS: ReadonlySet<string> = new Set(['/', '/ws']);

export interface ChatWsAdapterOptions {
  config: AppConfig;
  shutdown: ShutdownState;
  guard: HandshakeGuard;
  messageParser: MessageParser;
}

/**
 * The WebSocket transport: one `ws` server on the HTTP server's port, with
 * - upgrades accepted at `/` and `/ws`; refused while draining (503), from a foreign Origin (403),
 *   over the instance cap (503) or the per-IP cap (429), before any WebSocket exists,
 * - inbound frames capped at MAX_PAYLOAD_BYTES (ws closes with 1009) and compression off,
 * - a per-connection token bucket: a message over the rate becomes a `rate_limited` error,
 * - a heartbeat that terminates connections which missed a pong,
 * - one client's frames handled strictly one after another, in arrival order, without a
 *   per-connection RxJS pipeline.
 */
export class ChatWsAdapter extends WsAdapter {
  private readonly log = new Logger(ChatWsAdapter.name);
  private readonly heartbeats = new Map<WebSocketServer, NodeJS.Timeout>();
  private readonly rateLimited: ParsedMessage;

  constructor(
    app: INestApplicationContext,
    private readonly options: ChatWsAdapterOptions,
  ) {
    super(app, { messageParser: options.messageParser });
    this.rateLimited = {
      event: PROTOCOL_ERROR_EVENT,
      data: {
        code: ErrorCode.RateLimited,
        message: `rate limit exceeded: at most ${options.config.RATE_LIMIT_PER_SECOND} messages per second`,
      },
    };
  }

  override create(port: number): WebSocketServer {
    const httpServer = this.httpServer as HttpServer | undefined;
    if (port !== 0 || !httpServer) {
      throw new Error('ChatWsAdapter serves gateways on the HTTP port only: leave the port unset');
    }
    if (this.heartbeats.size > 0) throw new Error('ChatWsAdapter serves a single gateway');
    // closeTimeout (ws >= 8.19) is missing from @types/ws: a closing client that never answers
    // the close frame is destroyed after CLOSE_TIMEOUT_MS instead of ws' default 30 s.
    const options: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      maxPayload: this.options.config.MAX_PAYLOAD_BYTES,
      perMessageDeflate: false,
      closeTimeout: this.options.config.CLOSE_TIMEOUT_MS,
    };
    const server = new WebSocketServer(options);
    this.bindErrorHandler(server);
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(server, request, socket, head),
    );
    this.startHeartbeat(server);
    return server;
  }

  /**
   * One listener per socket, no per-connection RxJS pipeline (the stock adapter builds six
   * operator subscribers per connection: most of the idle memory per connection, see
   * docs/performance.md). Frames of one client are handled strictly one after another, in
   * arrival order: each waits on the previous one's promise.
   */
  override bindMessageHandlers(client: WebSocket, handlers: MessageMappingProperties[]): void {
    const { RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST } = this.options.config;
    const bucket = new TokenBucket(RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST, performance.now());
    let tail: Promise<void> = Promise.resolve();
    client.on('message', (data: RawData, isBinary: boolean) => {
      // A connection the server is closing stops being heard at once.
      if (client.readyState !== WebSocket.OPEN) return;
      // The rate is taken at arrival, before any queueing, so a flood costs a counter each.
      // Text arrives as one Buffer (ws' default binaryType 'nodebuffer').
      const message = bucket.take(performance.now())
        ? this.options.messageParser(isBinary ? data : (data as Buffer).toString())
        : this.rateLimited;
      tail = tail.then(() => this.dispatch(client, message, handlers));
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

  /** Runs the handler of one message; a non-empty result is sent back as JSON. Never rejects:
   * handler errors were already answered by the gateway's exception filter. */
  private async dispatch(
    client: WebSocket,
    message: ParsedMessage,
    handlers: MessageMappingProperties[],
  ): Promise<void> {
    // A few handlers: scanning Nest's own array costs less than a Map per connection.
    const handler = handlers.find((h) => h.message === message.event);
    if (!handler || client.readyState !== WebSocket.OPEN) return;
    try {
      const returned: unknown = await handler.callback(message.data, message.event);
      const result = isObservable(returned)
        ? await lastValueFrom(returned, { defaultValue: undefined })
        : returned;
      if (result !== undefined && result !== null && client.readyState === WebSocket.OPEN) {
        client.send(JSON.stringify(result));
      }
    } catch (error) {
      this.log.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    }
  }

  private upgrade(
    server: WebSocketServer,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    destroyOnError(socket);
    if (!WS_PATHS.has(pathOf(request.url))) return refuse(socket, 404);
    if (this.options.shutdown.draining) return refuse(socket, 503);
    const admission = this.options.guard.admit(request);
    if (!admission.admitted) return refuse(socket, admission.status);
    const slot = this.holdSlot(socket, admission.ip);
    server.handleUpgrade(request, socket, head, (ws) => {
      slot.upgraded(ws);
      server.emit('connection', ws, request);
    });
  }

  /**
   * Keeps the admitted slot until the socket closes, before or after the upgrade. Its own method
   * on purpose: closures made in `upgrade` would share its scope and keep the request (headers
   * and all) alive for as long as the connection.
   */
  private holdSlot(socket: Duplex, ip: string): { upgraded(ws: WebSocket): void } {
    let upgraded = false;
    const release = (): void => this.options.guard.release(ip);
    socket.once('close', () => {
      if (!upgraded) release();
    });
    return {
      upgraded: (ws) => {
        upgraded = true;
        ws.once('close', release);
      },
    };
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

/** A reset during the handshake must not become an unhandled 'error' event. (Outside `upgrade`,
 * so this long-lived listener does not keep that scope's request alive.) */
function destroyOnError(socket: Duplex): void {
  socket.on('error', () => socket.destroy());
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
