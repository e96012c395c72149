import type { Logger } from '@nestjs/common';
import { ChatError } from '../protocol/chat-error';
import { logUnexpected } from '../protocol/error-frame';
import { RpcError, RpcErrorCode, rpcErrorOf } from '../protocol/rpc.protocol';
import { isUnavailability, unavailableError } from '../rpc/rpc-unavailable';

/** Whether a failed call's reply may be stored as its answer: never one a retry could change. */
export function isFinal(error: RpcError): boolean {
  return !error.retryable && error.code !== RpcErrorCode.Unavailable;
}

/**
 * The replies the bridge pushes to a request's `reply_to` list, as seed 003's Django client reads
 * them: it checks `type == "error"`, and otherwise takes `result`.
 */
export function successReply(correlationId: string, result: unknown): string {
  return JSON.stringify({
    type: 'response',
    correlation_id: correlationId,
    success: true,
    result: result ?? null,
  });
}

export function errorReply(correlationId: string | undefined, error: RpcError): string {
  return JSON.stringify({
    type: 'error',
    correlation_id: correlationId ?? null,
    success: false,
    error: error.toBody(),
    error_code: error.code,
  });
}

/**
 * What a failed call answers: an RpcError as it is; a ChatError as its RPC counterpart (Redis
 * unavailable under a publish: the retryable `unavailable`); a failure to reach Redis, whatever
 * threw it, the retryable `unavailable` (not logged here: the caller's outage is logged once);
 * anything else is a server fault, logged (without the params) and answered with a generic
 * internal_error.
 */
export function asRpcError(error: unknown, logger: Logger): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof ChatError) return rpcErrorOf(error);
  if (isUnavailability(error)) return unavailableError();
  logUnexpected(error, logger);
  return new RpcError(RpcErrorCode.InternalError, 'internal error');
}
