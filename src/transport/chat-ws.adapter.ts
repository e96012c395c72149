import { INestApplicationContext, Logger } from '@nestjs/common';
import type { WsMessageHandler } from '@nestjs/common/interfaces';
import { AbstractWsAdapter } from '@nestjs/websockets';
import { IncomingMessage, STATUS_CODES, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { ServerOptions, WebSocket, WebSocketServer } from 'ws';
import { AppConfig } from '../config/app-config';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { CloseCode } from '../protocol/close-codes';
import { logUnexpected } from '../protocol/error-frame';
import { AdmissionPool, HandshakeGuard } from './handshake-guard';
import { selectSubprotocol } from '../auth/token-sources';
import type { Session } from './session';
import { HandshakeIdentity, SessionAuthenticator } from './session-authenticator';
import { SessionRegistry } from './session-registry';

/** Paths served by a gateway that names none (`@WebSocketGateway()`). */
export const DEFAULT_WS_PATHS: readonly string[] = ['/', '/ws'];

export interface ChatWsAdapterOptions {
  config: AppConfig;
  shutdown: ShutdownState;
  guard: HandshakeGuard;
  registry: SessionRegistry;
  auth: SessionAuthenticator;
}

/** The path on which an authenticated connection is greeted with an `auth` frame at once. */
const GREETED_PATH = '/ws';

/** Gateway options the adapter reads (`@WebSocketGateway({ path })`). */
export interface GatewayServerOptions {
  path?: string;
  namespace?: unknown;
}

/** One `ws` server and what every gateway on its path registered. */
interface Route {
  server: WebSocketServer;
  /** The union of the message types of the handlers bound on this path. */
  messageTypes: Set<string>;
}

/**
 * The WebSocket transport: `ws` servers on the HTTP server's port, one per gateway path, with
 * - `@WebSocketGateway()` served at `/` and `/ws`, `@WebSocketGateway({ path: '/x' })` at `/x`;
 *   gateways on the same path share one server and their handlers merge; other paths get 404,
 * - upgrades refused while draining (503), from a foreign Origin (403), over the cap of their
 *   pool (503: MAX_CONNECTIONS, or MAX_UNAUTHENTICATED without a token under AUTH_MODE=jwt) or
 *   the per-IP cap (429), before any WebSocket exists,
 * - one Session per connection, created here at the upgrade, handed to gateways as their client
 *   (`@ConnectedSocket()`), owning the inbound queue, the rate limit and the heartbeat state,
 * - inbound frames capped at MAX_PAYLOAD_BYTES (ws closes with 1009) and compression off,
 * - one heartbeat timer for all sessions.
 */
export class ChatWsAdapter extends AbstractWsAdapter {
  private readonly log = new Logger(ChatWsAdapter.name);
  /** Routes by path; the default route is under each of DEFAULT_WS_PATHS. */
  private readonly routes = new Map<string, Route>();
  private readonly closed = new WeakSet<WebSocketServer>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    app: INestApplicationContext,
    private readonly options: ChatWsAdapterOptions,
  ) {
    super(app);
  }

  /** Called by Nest once per distinct gateway path; returns that path's (possibly shared) server. */
  override create(port: number, options: GatewayServerOptions = {}): WebSocketServer {
    const httpServer = this.httpServer as HttpServer | undefined;
    if (port !== 0 || !httpServer) {
      throw new Error('ChatWsAdapter serves gateways on the HTTP port only: leave the port unset');
    }
    if (options.namespace !== undefined) throw new Error('ChatWsAdapter has no namespaces');
    const paths = options.path === undefined ? DEFAULT_WS_PATHS : [normalizePath(options.path)];
    // A gateway at `/ws` (or `/`) shares the default gateways' server, whichever came first.
    const existing = paths.map((path) => this.routes.get(path)).find((route) => route);
    if (existing) {
      for (const path of paths) this.routes.set(path, existing);
      return existing.server;
    }
    if (this.routes.size === 0) {
      httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
        this.upgrade(request, socket, head),
      );
      this.startHeartbeat();
    }
    const route: Route = { server: this.createServer(), messageTypes: new Set() };
    for (const path of paths) this.routes.set(path, route);
    return route.server;
  }

  /** Each gateway on the session's path binds its handlers; they merge on the session. */
  override bindMessageHandlers(session: Session, handlers: WsMessageHandler[]): void {
    session.bind(handlers);
  }

  override bindClientDisconnect(session: Session, callback: () => void): void {
    session.onClose(callback);
  }

  /** Nest calls this for every gateway path, so a server shared by several is closed once. */
  override async close(server: WebSocketServer): Promise<void> {
    if (this.closed.has(server)) return;
    this.closed.add(server);
    // Clients were sent 1012 during the drain (SessionRegistry); whatever remains is cut.
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  override async dispose(): Promise<void> {
    clearInterval(this.heartbeat);
    this.routes.clear();
    return Promise.resolve();
  }

  private createServer(): WebSocketServer {
    // closeTimeout (ws >= 8.19) is missing from @types/ws: a closing client that never answers
    // the close frame is destroyed after CLOSE_TIMEOUT_MS instead of ws' default 30 s.
    const options: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      maxPayload: this.options.config.MAX_PAYLOAD_BYTES,
      perMessageDeflate: false,
      closeTimeout: this.options.config.CLOSE_TIMEOUT_MS,
      // `bearer` when a browser offers `bearer, <jwt>`: the token itself is never echoed.
      handleProtocols: (offered) => selectSubprotocol(offered),
    };
    const server = new WebSocketServer(options);
    server.on('error', (error: Error) => this.log.error(error));
    return server;
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    destroyOnError(socket);
    const route = this.routes.get(pathOf(request.url));
    if (!route) return refuse(socket, 404);
    if (this.options.shutdown.draining) return refuse(socket, 503);
    const pool = this.options.auth.poolOf(request);
    const admission = this.options.guard.admit(request, pool);
    if (!admission.admitted) return refuse(socket, admission.status);
    const slot = this.holdSlot(socket, admission.ip, pool);
    const path = pathOf(request.url);
    const complete = (): void =>
      route.server.handleUpgrade(request, socket, head, (ws) =>
        this.accept(route, ws, slot, request, path),
      );
    if (!this.options.auth.required) return complete();
    this.options.auth.handshake(request).then(
      (outcome) => {
        if (!outcome.ok) return refuse(socket, outcome.status);
        // The client may have gone while the token was checked: the slot's close listener ran
        // without the identity, so its per-user count is given back here.
        if (socket.destroyed) {
          if (outcome.identity) this.options.auth.abandon(outcome.identity);
          return;
        }
        slot.identity = outcome.identity;
        complete();
      },
      (error: unknown) => {
        logUnexpected(error, this.log);
        refuse(socket, 500);
      },
    );
  }

  /** The socket is upgraded: its session takes over the admission slot, then gateways see it. */
  private accept(
    route: Route,
    ws: WebSocket,
    slot: HeldSlot,
    request: IncomingMessage,
    path: string,
  ): void {
    slot.upgraded = true;
    const session = this.options.registry.open(
      ws,
      slot.ip,
      route.messageTypes,
      slot.identity,
      slot.pool,
    );
    // Before the gateways' connection hooks, so that it precedes an auto-join's `joined`.
    if (path === GREETED_PATH && !session.awaitingAuth) {
      session.sendFrame(this.options.auth.authFrame(session));
    }
    try {
      route.server.emit('connection', session, request);
    } catch (error) {
      // A gateway's connection hook failed: the session would be left half set up.
      logUnexpected(error, this.log);
      session.close(CloseCode.InternalError, 'internal error');
    }
  }

  /**
   * Keeps the admitted slot until the upgrade completes; a socket that closes before that gives it
   * back here, after it the session releases it. Its own method on purpose: closures made in
   * `upgrade` would share its scope and keep the request (headers and all) alive for as long as
   * the connection.
   */
  private holdSlot(socket: Duplex, ip: string, pool: AdmissionPool): HeldSlot {
    const slot: HeldSlot = { ip, pool, upgraded: false };
    socket.once('close', () => {
      if (slot.upgraded) return;
      this.options.guard.release(ip, pool);
      if (slot.identity) this.options.auth.abandon(slot.identity);
    });
    return slot;
  }

  /** Pings every session each interval; one that has not answered the previous ping is cut. */
  private startHeartbeat(): void {
    this.heartbeat = setInterval(() => {
      for (const session of this.options.registry) session.heartbeat();
    }, this.options.config.HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
  }
}

/** An admission slot between the admission and the end of the upgrade. */
interface HeldSlot {
  readonly ip: string;
  readonly pool: AdmissionPool;
  upgraded: boolean;
  /** The identity of a token verified at the handshake, with its per-user count. */
  identity?: HandshakeIdentity;
}

/** `/x/` and `x` name the same path as `/x`. */
function normalizePath(path: string): string {
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.length > 1 && withSlash.endsWith('/') ? withSlash.slice(0, -1) : withSlash;
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return normalizePath(query === -1 ? raw : raw.slice(0, query));
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
