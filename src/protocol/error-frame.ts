import type { Logger } from '@nestjs/common';
import { ErrorFrame, frames } from './chat.protocol';
import { ChatError } from './chat-error';
import { ErrorCode } from './error-code';
import { RefusalDetails, RpcErrorFrame, rpcErrorOf, rpcFrames } from './rpc.protocol';

/**
 * The one place errors become frames. A ChatError is the client's to act on and is echoed; any
 * other error is a server fault: logged (without the client's payload) and answered generically.
 */
export function toErrorFrame(error: unknown, logger: Logger): ErrorFrame {
  if (error instanceof ChatError) return frames.error(error.code, error.message, error.retryable);
  logUnexpected(error, logger);
  return frames.error(ErrorCode.Internal, 'internal server error');
}

/**
 * The answer to a frame the transport refused (over the rate limit, malformed, before
 * authentication): an `rpc` frame whose correlation id is known gets the RPC error frame carrying
 * it, so the caller can match it to its call; any other frame gets the error frame.
 */
export function refusalFrame(
  error: ChatError,
  correlationId: string | undefined,
  details?: RefusalDetails,
): ErrorFrame | RpcErrorFrame {
  if (correlationId === undefined) return frames.error(error.code, error.message, error.retryable);
  return rpcFrames.error(correlationId, rpcErrorOf(error, details));
}

/** Logs a server fault with its stack; errors never carry client payloads, so neither does this. */
export function logUnexpected(error: unknown, logger: Logger): void {
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
}
