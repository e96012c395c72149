import { ArgumentsHost, Catch, Injectable, Logger, WsExceptionFilter } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { ConnectionRegistry } from './connection-registry';
import { toErrorFrame } from '../protocol/error-frame';

/** Answers any failure of a message handler with `{type:"error", code, message}`; the connection
 * stays open unless it keeps failing (see Connection.sendError). */
@Catch()
@Injectable()
export class WsErrorFilter implements WsExceptionFilter {
  private readonly logger = new Logger(WsErrorFilter.name);

  constructor(private readonly registry: ConnectionRegistry) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const socket = host.switchToWs().getClient<WebSocket>();
    this.registry.get(socket)?.sendError(toErrorFrame(error, this.logger));
  }
}
