/**
 * The RPC half of the wire contract (seed 003): a client or a backend calls a method by name with
 * params and a correlation id, and gets a response or an error carrying the same id. Socket frames
 * keep the seed-000 error shape (top-level `code`, `message`) and add seed 003's `error` object.
 */

/** Codes of RPC errors, snake_case as seed 003's clients switch on them; never rename one. */
export const RpcErrorCode = {
  MethodNotFound: 'method_not_found',
  /** `details.validation_errors` lists `{field, error}` per invalid field. */
  InvalidParams: 'invalid_params',
  Forbidden: 'forbidden',
  Unauthenticated: 'unauthenticated',
  RateLimited: 'rate_limited',
  Timeout: 'timeout',
  UserNotConnected: 'user_not_connected',
  InternalError: 'internal_error',
} as const;
export type RpcErrorCode = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

/** One invalid field of `invalid_params`: `field` is a dotted path into params. */
export interface ValidationErrorItem {
  field: string;
  error: string;
}

/** Seed 003's error object. */
export interface RpcErrorBody {
  code: RpcErrorCode;
  message: string;
  details?: Record<string, unknown>;
  retryable: boolean;
  /** Seconds to wait before retrying (rate_limited). */
  retry_after?: number;
}

/** A failure of one call that the caller may act on; anything else thrown is internal_error. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean;
  readonly retryAfter: number | undefined;

  constructor(
    readonly code: RpcErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; retryable?: boolean; retryAfter?: number } = {},
  ) {
    super(message);
    this.details = options.details;
    this.retryable = options.retryable ?? false;
    this.retryAfter = options.retryAfter;
  }

  toBody(): RpcErrorBody {
    return {
      code: this.code,
      message: this.message,
      ...(this.details !== undefined && { details: this.details }),
      retryable: this.retryable,
      ...(this.retryAfter !== undefined && { retry_after: this.retryAfter }),
    };
  }
}
