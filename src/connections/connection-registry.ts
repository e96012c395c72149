import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { CloseCode } from '../common/errors/close-codes';
import { ShutdownState } from '../common/lifecycle/shutdown-state';
import { clientIp } from '../common/ws/client-ip';
import { AppConfig } from '../config/app-config';
import { Connection, ConnectionLimits, EvictionListener } from './connection';

/** The live connections of this instance, keyed by their socket. */
@Injectable()
export class ConnectionRegistry implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ConnectionRegistry.name);
  private readonly connections = new Map<WebSocket, Connection>();
  private readonly joinTimers = new Map<Connection, NodeJS.Timeout>();
  private readonly limits: ConnectionLimits;
  private readonly evictionListeners: EvictionListener[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly shutdown: ShutdownState,
  ) {
    this.limits = {
      maxBufferedBytes: config.MAX_BUFFERED_BYTES,
      abuseErrorsMax: config.ABUSE_ERRORS_MAX,
      abuseWindowMs: config.ABUSE_WINDOW_MS,
    };
  }

  get size(): number {
    return this.connections.size;
  }

  /** Pending join-timeout timers (one per connection until it closes or the timer fires). */
  get timerCount(): number {
    return this.joinTimers.size;
  }

  /** `listener` runs for every connection the server evicts (slow, abusive, never joined). */
  onEviction(listener: EvictionListener): void {
    this.evictionListeners.push(listener);
  }

  attach(socket: WebSocket, request: IncomingMessage): Connection {
    const connection = new Connection(
      socket,
      clientIp(request, this.config.TRUST_PROXY),
      this.limits,
      (evicted) => this.evicted(evicted),
    );
    this.connections.set(socket, connection);
    const timer = setTimeout(() => {
      this.joinTimers.delete(connection);
      if (connection.roomId === undefined) {
        connection.evict(CloseCode.PolicyViolation, 'join timeout');
      }
    }, this.config.JOIN_TIMEOUT_MS);
    timer.unref();
    this.joinTimers.set(connection, timer);
    return connection;
  }

  get(socket: WebSocket): Connection | undefined {
    return this.connections.get(socket);
  }

  detach(socket: WebSocket): Connection | undefined {
    const connection = this.connections.get(socket);
    if (!connection) return undefined;
    this.connections.delete(socket);
    clearTimeout(this.joinTimers.get(connection));
    this.joinTimers.delete(connection);
    return connection;
  }

  /**
   * Graceful stop: refuse new work, send every client a 1012 close frame and wait for the closing
   * handshakes, then terminate whatever is left once half of the shutdown budget is spent.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.shutdown.beginDrain();
    const open = [...this.connections.values()];
    if (open.length === 0) return;
    this.logger.log(`Draining ${open.length} connection(s)`);
    for (const connection of open) connection.close(CloseCode.ServiceRestart, 'server restarting');
    const budget = delay(this.config.SHUTDOWN_TIMEOUT_MS / 2, 'timeout' as const, { ref: false });
    const outcome = await Promise.race([Promise.all(open.map((c) => c.closed)), budget]);
    if (outcome === 'timeout') {
      this.logger.warn('Drain budget spent; terminating the connections still open');
      for (const connection of open) connection.terminate();
    }
  }

  private evicted(connection: Connection): void {
    this.logger.debug(`Evicting connection ${connection.id} from ${connection.remoteAddress}`);
    for (const listener of this.evictionListeners) listener(connection);
  }
}
