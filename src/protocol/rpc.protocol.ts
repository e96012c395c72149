import { ChatError } from './chat-error';
import { ErrorCode } from './error-code';

/**
 * The RPC half of the wire contract (seed 003): a client or a backend calls a method by name with
 * params and a correlation id, and gets a response or an error carrying the same id. Socket frames
 * keep the seed-000 error shape (top-level `code`, `message`) and add seed 003's `error` object.
 */

/** Codes of RPC errors, snake_case as seed 003's clients switch on them; never rename one. */
export const RpcErrorCode = {
  /** No method of that name. */
  MethodNotFound: 'method_not_found',
  /** The params break the method's schema: `details.validation_errors` lists `{field, error}`. */
  InvalidParams: 'invalid_params',
  /** A socket calling a backend-only method, or publishing into a room its token does not allow. */
  Forbidden: 'forbidden',
  /** A call before the connection authenticated (AUTH_MODE=jwt). */
  Unauthenticated: 'unauthenticated',
  /** Over the connection's rate limit: retry after `retry_after` seconds. */
  RateLimited: 'rate_limited',
  /** The call's deadline passed before it ran (Redis bridge). */
  Timeout: 'timeout',
  /** The method needs a user who is not connected. */
  UserNotConnected: 'user_not_connected',
  /** The call could not publish (the shared broker refused or did not answer); retry it. */
  Unavailable: 'unavailable',
  /** An unexpected server fault (logged, without the params). */
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

/** The client frame of a call: `{"type":"rpc","method","params","correlation_id"}`. */
export const RpcMessageType = {
  Rpc: 'rpc',
  /** The answer of a call that succeeded (seed 003's `response`). */
  Response: 'response',
  /** The answer of a call that failed: the `error` type of every error frame. */
  Error: 'error',
} as const;

/** The RPC methods on a socket's rooms, whose cost is that of the frames they match. */
export const RoomMethod = {
  JoinRoom: 'join_room',
  LeaveRoom: 'leave_room',
  Presence: 'presence',
  History: 'history',
} as const;

/** Longest `correlation_id` the server echoes; seed 003's clients send a UUID (36). */
export const CORRELATION_ID_MAX_LENGTH = 128;

/**
 * A correlation id the server can echo in its answers: a string of 1 to 128 characters. (The
 * transport has already refused a frame whose top-level strings hold lone surrogates.)
 */
export function isCorrelationId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= CORRELATION_ID_MAX_LENGTH;
}

/** `{"type":"response","correlation_id","result"}`: a call that succeeded. */
export interface RpcResponseFrame {
  type: typeof RpcMessageType.Response;
  correlation_id: string;
  result: unknown;
}

/**
 * A call that failed: top-level `code` and `message` keep the seed-000 error frame's shape (a
 * client that switches on them keeps working), `error` is seed 003's error object.
 */
export interface RpcErrorFrame {
  type: typeof RpcMessageType.Error;
  correlation_id: string;
  code: RpcErrorCode;
  message: string;
  error: RpcErrorBody;
}

export const rpcFrames = {
  /** A handler that resolves with nothing answers `result: null`, so the field is always there. */
  response: (correlationId: string, result: unknown): RpcResponseFrame => ({
    type: RpcMessageType.Response,
    correlation_id: correlationId,
    result: result ?? null,
  }),
  error: (correlationId: string, error: RpcError): RpcErrorFrame => ({
    type: RpcMessageType.Error,
    correlation_id: correlationId,
    code: error.code,
    message: error.message,
    error: error.toBody(),
  }),
};

/**
 * `invalid_params` listing the invalid fields. `field` is a dotted path inside `params`
 * (`file.path`, `items.0.name`), or the call's own field (`method`, `params`, `correlation_id`)
 * when that is what is wrong.
 */
export function invalidParams(message: string, errors: ValidationErrorItem[]): RpcError {
  return new RpcError(RpcErrorCode.InvalidParams, message, {
    details: { validation_errors: errors },
  });
}

/**
 * The RPC code a refusal of the chat protocol's kind takes when it answers an `rpc` frame (the
 * transport refuses frames before any RPC code runs: over the rate limit, malformed, for another
 * user). Total over ErrorCode, so a new chat code must be given its RPC counterpart here.
 */
const RPC_CODE_OF: Readonly<Record<ErrorCode, RpcErrorCode>> = {
  [ErrorCode.InvalidJson]: RpcErrorCode.InvalidParams,
  [ErrorCode.InvalidMessage]: RpcErrorCode.InvalidParams,
  [ErrorCode.Unsupported]: RpcErrorCode.InvalidParams,
  [ErrorCode.UnknownType]: RpcErrorCode.MethodNotFound,
  [ErrorCode.NotJoined]: RpcErrorCode.InternalError,
  [ErrorCode.UserMismatch]: RpcErrorCode.Forbidden,
  [ErrorCode.Forbidden]: RpcErrorCode.Forbidden,
  [ErrorCode.RateLimited]: RpcErrorCode.RateLimited,
  [ErrorCode.Unavailable]: RpcErrorCode.Unavailable,
  [ErrorCode.Internal]: RpcErrorCode.InternalError,
  [ErrorCode.TokenExpired]: RpcErrorCode.Unauthenticated,
  [ErrorCode.InvalidToken]: RpcErrorCode.Unauthenticated,
};

/** What the transport knows about a refusal beyond its ChatError. */
export interface RefusalDetails {
  /** Seconds until the call would be within the rate limit (`rate_limited`). */
  retryAfter?: number;
  /** The frame's field at fault (`invalid_params`). */
  field?: string;
}

/**
 * A ChatError as the RpcError answering an `rpc` frame. `rate_limited` is always retryable: the
 * same call succeeds once the bucket has refilled, `retry_after` seconds later; so is
 * `unavailable`: nothing was published, or (a timeout) it was and the retry finds it by its key.
 */
export function rpcErrorOf(error: ChatError, details: RefusalDetails = {}): RpcError {
  const code = RPC_CODE_OF[error.code];
  if (code === RpcErrorCode.RateLimited) {
    return new RpcError(code, error.message, { retryable: true, retryAfter: details.retryAfter });
  }
  if (code === RpcErrorCode.InvalidParams) {
    const field = details.field;
    return invalidParams(
      error.message,
      field === undefined ? [] : [{ field, error: error.message }],
    );
  }
  if (code === RpcErrorCode.Unavailable) {
    return new RpcError(code, error.message, { retryable: true });
  }
  return new RpcError(code, error.message, { retryable: error.retryable });
}

/**
 * Seed 003's reply to a backend's call (the Redis bridge's and the HTTP API's): `success` says
 * which of `result` and `error` it carries; `error_code` repeats `error.code` for clients that
 * read that. `correlation_id` is the call's, when it gave one.
 */
export type RpcReply = RpcSuccessReply | RpcFailureReply;

export interface RpcSuccessReply {
  type: typeof RpcMessageType.Response;
  correlation_id?: string;
  success: true;
  result: unknown;
}

export interface RpcFailureReply {
  type: typeof RpcMessageType.Error;
  correlation_id?: string;
  success: false;
  error: RpcErrorBody;
  error_code: RpcErrorCode;
}

export const rpcReplies = {
  success: (correlationId: string | undefined, result: unknown): RpcSuccessReply => ({
    type: RpcMessageType.Response,
    ...(correlationId !== undefined && { correlation_id: correlationId }),
    success: true,
    result: result ?? null,
  }),
  failure: (correlationId: string | undefined, error: RpcError): RpcFailureReply => ({
    type: RpcMessageType.Error,
    ...(correlationId !== undefined && { correlation_id: correlationId }),
    success: false,
    error: error.toBody(),
    error_code: error.code,
  }),
};
