import { ErrorCode } from './error-code';

/** A failure the client caused or may act on; formatted into `{type:"error", code, message}`. */
export class ChatError extends Error {
  override readonly name = 'ChatError';

  /** True when the same message may succeed if sent again (sent as `retryable` in the frame). */
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { retryable?: boolean } = {},
  ) {
    super(message);
    this.retryable = options.retryable ?? false;
  }
}
