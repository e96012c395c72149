import { ErrorCode } from './error-code';

/** A failure the client caused or may act on; formatted into `{type:"error", code, message}`. */
export class ChatError extends Error {
  override readonly name = 'ChatError';

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
