import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { CloseCode } from '../protocol/close-codes';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { clientIp } from './client-ip';
import { AppConfig } from '../config/app-config';
import { Connection, ConnectionLimits, EvictionListener } from './connection';

/** The live connections of this instance, keyed by their socket. */
@Injectable()
export class ConnectionRegistry implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ConnectionRegistry.name);
  private readonly connections = new Map<WebSocket, Connection>();
  /** Connections that have not joined yet, swept by one timer instead of one timer each. */
  private readonly awaitingJoin = new Set<Connection>();
  private readonly joinSweep: NodeJS.Timeout;
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
    const every = Math.max(10, Math.floor(config.JOIN_TIMEOUT_MS / 4));
    this.joinSweep = setInterval(() => this.sweepUnjoined(), every);
    this.joinSweep.unref();
  }

  get size(): number {
    return this.connections.size;
  }

  /** Connections whose join deadline is still pending (they have not joined, closed or expired). */
  get awaitingJoinCount(): number {
    return this.awaitingJoin.size;
  }

  /** `listener` runs for every connection the server evicts (slow, abusive, never joined). */
  onEviction(listener: EvictionListener): void {
    this.evictionListeners.push(listener);
  }

  attach(socket: WebSocket, request: IncomingMessage): Connection {
    const connection = new Connection(
      socket,
      clientIp(request, this.config),
      this.limits,
      (evicted) => this.evicted(evicted),
    );
    this.connections.set(socket, connection);
    this.awaitingJoin.add(connection);
    return connection;
  }

  get(socket: WebSocket): Connection | undefined {
    return this.connections.get(socket);
  }

  detach(socket: WebSocket): Connection | undefined {
    const connection = this.connections.get(socket);
    if (!connection) return undefined;
    this.connections.delete(socket);
    this.awaitingJoin.delete(connection);
    return connection;
  }

  /**
   * Graceful stop: refuse new work, send every client a 1012 close frame and wait for the closing
   * handshakes, then terminate whatever is left once half of the shutdown budget is spent.
   */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.joinSweep);
    this.shutdown.beginDrain();
    const open = [...this.connections.values()];
    if (open.length === 0) return;
    this.logger.log(`Draining ${open.length} connection(s)`);
    for (const connection of open) connection.close(CloseCode.ServiceRestart, 'server restarting');
    const budget = delay(this.config.SHUTDOWN_TIMEOUT_MS / 2, 'timeout' as const, { ref: false });
    const outcome = await Promise.race([Promise.all(open.map((c) => c.whenClosed())), budget]);
    if (outcome === 'timeout') {
      this.logger.warn('Drain budget spent; terminating the connections still open');
      for (const connection of open) connection.terminate();
    }
  }

  /** Closes (1008) connections that have not joined within JOIN_TIMEOUT_MS; forgets joined ones.
   * The deadline is kept within a quarter of the timeout. */
  private sweepUnjoined(): void {
    const deadline = Date.now() - this.config.JOIN_TIMEOUT_MS;
    for (const connection of this.awaitingJoin) {
      if (connection.roomId !== undefined) {
        this.awaitingJoin.delete(connection);
      } else if (connection.connectedAt <= deadline) {
        this.awaitingJoin.delete(connection);
        connection.evict(CloseCode.PolicyViolation, 'join timeout');
      }
    }
  }

  private evicted(connection: Connection): void {
    this.logger.debug(`Evicting connection ${connection.id} from ${connection.remoteAddress}`);
    for (const listener of this.evictionListeners) listener(connection);
  }
}
