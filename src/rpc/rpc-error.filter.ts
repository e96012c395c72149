import { ArgumentsHost, Catch, Injectable, Logger, WsExceptionFilter } from '@nestjs/common';
import { ChatError } from '../protocol/chat-error';
import { logUnexpected, toErrorFrame } from '../protocol/error-frame';
import {
  isCorrelationId,
  RpcError,
  RpcErrorCode,
  rpcErrorOf,
  rpcFrames,
} from '../protocol/rpc.protocol';
import type { Session } from '../transport/session';

/**
 * Answers a failed `rpc` frame: with its correlation id, the RPC error frame (an RpcError as it
 * is, a ChatError in its RPC form, anything else logged and answered `internal_error`); without
 * one, the error frame, as any malformed frame. Counted toward ABUSE_ERRORS_MAX like every error.
 */
@Catch()
@Injectable()
export class RpcErrorFilter implements WsExceptionFilter {
  private readonly logger = new Logger(RpcErrorFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const session = ws.getClient<Session>();
    const correlationId = (ws.getData<{ correlation_id?: unknown } | null>() ?? {}).correlation_id;
    if (!isCorrelationId(correlationId)) {
      return session.sendError(toErrorFrame(error, this.logger));
    }
    session.sendError(rpcFrames.error(correlationId, this.asRpcError(error)));
  }

  private asRpcError(error: unknown): RpcError {
    if (error instanceof RpcError) return error;
    if (error instanceof ChatError) return rpcErrorOf(error);
    logUnexpected(error, this.logger);
    return new RpcError(RpcErrorCode.InternalError, 'internal server error');
  }
}
