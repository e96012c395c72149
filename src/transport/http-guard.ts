import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LogThrottle } from '../common/log-throttle';
import { AppConfig } from '../config/app-config';
import { HandshakeGuard } from './handshake-guard';

/** Where a socket is in its current request, and so which deadline applies to it. */
type Phase =
  /** waiting for complete request headers (since its accept or its previous response) */
  | 'headers'
  /** headers received, the body is still arriving */
  | 'body'
  /** the request is in; the response (or one of several pipelined ones) is still going out */
  | 'answering'
  /** answered or refused and ended by us; destroyed if the peer has not closed by the deadline */
  | 'closing';

interface TrackedSocket {
  readonly socket: Socket;
  /** The per-IP key the socket is counted under (undefined: a trusted proxy's socket). */
  readonly ip: string | undefined;
  phase: Phase;
  /** performance.now() by which the phase must be over. */
  deadline: number;
  /** Requests received whose response has not closed yet. */
  inFlight: number;
  /** The request whose headers arrived last: the one being received, pipelined ones are in. */
  request: IncomingMessage | undefined;
  response: ServerResponse | undefined;
  /** Our 'close' listener, removed at the upgrade so that it does not outlive the HTTP phase. */
  onClose: () => void;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** How long an ended socket may take to close its side before it is destroyed. */
const LINGER_MS = 1_000;

const TOO_MANY_REQUESTS =
  'HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
  'Content-Length: 17\r\n\r\nToo Many Requests';

/**
 * The HTTP server's guard against clients that stay inside every request limit but hold the
 * server's sockets, memory or time: it sits in front of the application on the HTTP server.
 *
 * - MAX_HTTP_CONNECTIONS caps the TCP connections of every kind (Node's `maxConnections`: one
 *   over it is closed as it is accepted, before any byte is read);
 * - a socket that is not (yet) a WebSocket counts toward MAX_CONNECTIONS_PER_IP from its accept
 *   (HandshakeGuard.admitSocket); one over the cap is answered 429 and closed at once;
 * - HTTP_HEADERS_TIMEOUT_MS: a socket without complete request headers that long after its
 *   accept or its last response is closed. Node's own headersTimeout ignores a socket that never
 *   sends a byte, and is checked only every 30 s;
 * - HTTP_REQUEST_TIMEOUT_MS: a request body not in within that of its headers is answered 408
 *   and its socket closed; a response the client does not take within it closes the socket too;
 * - HTTP_MAX_PIPELINED: a socket with more requests in flight than that is closed. Node keeps
 *   parsing and dispatching pipelined requests of a chunk already read however many there are,
 *   and holds every response for a client that never reads.
 *
 * Deadlines are checked by one sweep timer for all sockets, not a timer per socket. A socket
 * stops being watched here once it is upgraded: the WebSocket layer has its own limits.
 */
@Injectable()
export class HttpGuard {
  private readonly log = new Logger(HttpGuard.name);
  private readonly warnings = new LogThrottle(this.log);
  private readonly sockets = new Map<Socket, TrackedSocket>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly handshakes: HandshakeGuard,
  ) {}

  /** Puts the guard in front of `server`'s request listeners; call before it listens. */
  attach(server: HttpServer): void {
    if (this.sweeper) throw new Error('HttpGuard guards a single HTTP server');
    server.maxConnections = this.config.MAX_HTTP_CONNECTIONS;
    server.on('drop', () =>
      this.warnings.warn(
        'MAX_HTTP_CONNECTIONS reached: closing new connections',
        `MAX_HTTP_CONNECTIONS (${this.config.MAX_HTTP_CONNECTIONS}) reached: closing new connections`,
      ),
    );
    // Before Node's HTTP parser and the WebSocket adapter, so that a refused socket is closed
    // before anything is read and an upgrading socket is handed over before it is admitted.
    server.prependListener('connection', (socket: Socket) => this.accepted(socket));
    server.prependListener('upgrade', (_request: IncomingMessage, socket: Socket) =>
      this.upgrading(socket),
    );
    // The application (express) is a 'request' listener: it is called only for a request the
    // guard lets through, so the rest of an over-pipelined chunk costs no routing and no handler.
    const application = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (!this.received(request, response)) return;
      for (const listener of application) listener.call(server, request, response);
    });
    const { HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS } = this.config;
    // A tenth of the shorter timeout: a deadline is enforced at most 10 % late.
    const period = Math.min(
      1_000,
      Math.max(10, Math.min(HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS) / 10),
    );
    this.sweeper = setInterval(() => this.sweep(performance.now()), period).unref();
    server.once('close', () => clearInterval(this.sweeper));
  }

  /** Sockets accepted and not yet upgraded or closed. */
  get socketCount(): number {
    return this.sockets.size;
  }

  private accepted(socket: Socket): void {
    const admission = this.handshakes.admitSocket(socket);
    if (!admission.admitted) {
      this.log.debug(`Refusing a socket from ${socket.remoteAddress}: MAX_CONNECTIONS_PER_IP`);
      socket.once('finish', () => socket.destroy());
      socket.once('error', () => socket.destroy());
      socket.end(TOO_MANY_REQUESTS);
      return;
    }
    const tracked: TrackedSocket = {
      socket,
      ip: admission.ip,
      phase: 'headers',
      deadline: performance.now() + this.config.HTTP_HEADERS_TIMEOUT_MS,
      inFlight: 0,
      request: undefined,
      response: undefined,
      onClose: () => this.forget(tracked),
    };
    this.sockets.set(socket, tracked);
    socket.once('close', tracked.onClose);
  }

  /** The socket becomes a WebSocket (or is refused by the adapter): its count passes to `admit`. */
  private upgrading(socket: Socket): void {
    const tracked = this.sockets.get(socket);
    if (!tracked) return;
    socket.removeListener('close', tracked.onClose);
    this.forget(tracked);
  }

  /** A request's headers arrived. Returns whether the application may see it. */
  private received(request: IncomingMessage, response: ServerResponse): boolean {
    const tracked = this.sockets.get(request.socket);
    // Not tracked: refused at accept (or already closed); nothing of it is served.
    if (!tracked || tracked.phase === 'closing') return false;
    tracked.inFlight += 1;
    if (tracked.inFlight > this.config.HTTP_MAX_PIPELINED) {
      this.log.debug(
        `Closing a socket from ${tracked.socket.remoteAddress}: more than ` +
          `HTTP_MAX_PIPELINED (${this.config.HTTP_MAX_PIPELINED}) requests in flight`,
      );
      this.destroy(tracked);
      return false;
    }
    tracked.request = request;
    tracked.response = response;
    tracked.phase = 'body';
    tracked.deadline = performance.now() + this.config.HTTP_REQUEST_TIMEOUT_MS;
    response.once('close', () => this.answered(tracked, request));
    return true;
  }

  private answered(tracked: TrackedSocket, request: IncomingMessage): void {
    tracked.inFlight -= 1;
    if (tracked.inFlight > 0 || tracked.phase === 'closing' || tracked.socket.destroyed) return;
    if (!request.complete) {
      // Answered before its body arrived (a route that takes none): reading on would only
      // serve a client that announced a body it does not send.
      this.end(tracked, performance.now());
      return;
    }
    tracked.request = undefined;
    tracked.response = undefined;
    tracked.phase = 'headers';
    tracked.deadline = performance.now() + this.config.HTTP_HEADERS_TIMEOUT_MS;
  }

  private sweep(now: number): void {
    for (const tracked of this.sockets.values()) {
      if (tracked.phase === 'body' && tracked.request?.complete) {
        tracked.phase = 'answering';
        tracked.deadline = now + this.config.HTTP_REQUEST_TIMEOUT_MS;
      }
      if (now < tracked.deadline) continue;
      this.expire(tracked, now);
    }
  }

  private expire(tracked: TrackedSocket, now: number): void {
    const from = tracked.socket.remoteAddress;
    switch (tracked.phase) {
      case 'headers':
        this.log.debug(
          `Closing a socket from ${from}: no request headers within HTTP_HEADERS_TIMEOUT_MS`,
        );
        return this.destroy(tracked);
      case 'body':
        this.log.debug(
          `Answering 408 to ${from}: request body not in within HTTP_REQUEST_TIMEOUT_MS`,
        );
        return this.timeOut(tracked, now);
      case 'answering':
        this.log.debug(`Closing a socket from ${from}: its responses are not being read`);
        return this.destroy(tracked);
      case 'closing':
        return this.destroy(tracked);
    }
  }

  /** 408 when the late request's response has not started (and is the one on the wire). */
  private timeOut(tracked: TrackedSocket, now: number): void {
    const response = tracked.response;
    if (response && response.socket === tracked.socket && !response.headersSent) {
      tracked.phase = 'closing';
      tracked.deadline = now + LINGER_MS;
      response.writeHead(408, { Connection: 'close', 'Content-Type': 'text/plain' });
      response.end('Request Timeout');
      return;
    }
    this.destroy(tracked);
  }

  /** Ends our side now and destroys the socket if the peer has not closed within LINGER_MS. */
  private end(tracked: TrackedSocket, now: number): void {
    tracked.phase = 'closing';
    tracked.deadline = now + LINGER_MS;
    tracked.socket.end();
  }

  private destroy(tracked: TrackedSocket): void {
    this.forget(tracked);
    tracked.socket.destroy();
  }

  /** Stops watching a socket and gives back its per-IP slot; safe to call more than once. */
  private forget(tracked: TrackedSocket): void {
    if (this.sockets.get(tracked.socket) !== tracked) return;
    this.sockets.delete(tracked.socket);
    if (tracked.ip !== undefined) this.handshakes.releaseSocket(tracked.ip);
  }
}
