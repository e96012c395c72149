import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { CloseCode } from '../common/errors/close-codes';
import { ShutdownState } from '../common/lifecycle/shutdown-state';
import { AppConfig } from '../config/app-config';
import { Connection } from './connection';

/** The live connections of this instance, keyed by their socket. */
@Injectable()
export class ConnectionRegistry implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ConnectionRegistry.name);
  private readonly connections = new Map<WebSocket, Connection>();

  constructor(
    private readonly config: AppConfig,
    private readonly shutdown: ShutdownState,
  ) {}

  get size(): number {
    return this.connections.size;
  }

  attach(socket: WebSocket, request: IncomingMessage): Connection {
    const connection = new Connection(socket, request.socket.remoteAddress ?? 'unknown');
    this.connections.set(socket, connection);
    return connection;
  }

  get(socket: WebSocket): Connection | undefined {
    return this.connections.get(socket);
  }

  detach(socket: WebSocket): Connection | undefined {
    const connection = this.connections.get(socket);
    this.connections.delete(socket);
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
}
