/** Stable, machine-readable codes of `{type:"error"}` frames. Clients switch on these; never rename one. */
export enum ErrorCode {
  /** The text frame is not valid JSON. */
  InvalidJson = 'invalid_json',
  /** The frame is JSON but breaks the message schema; the message names the field. */
  InvalidMessage = 'invalid_message',
  /** `type` is a string the server does not know. */
  UnknownType = 'unknown_type',
  /** `chat_message` from a connection that has not joined a room. */
  NotJoined = 'not_joined',
  /** The message names a different `userId` than the one the connection joined as. */
  UserMismatch = 'user_mismatch',
  /** A binary frame; the protocol is JSON text only. */
  Unsupported = 'unsupported',
  /** Over RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST: the message was dropped. */
  RateLimited = 'rate_limited',
  /** The message could not be published (the shared broker refused or did not answer); retry. */
  Unavailable = 'unavailable',
  /** An unexpected server fault; the connection stays usable. */
  Internal = 'internal',
  /** The token's `rooms` claim (or AUTH_DEFAULT_ROOMS) does not allow the room; the connection stays open. */
  Forbidden = 'forbidden',
  /** The token reached its `exp`: send `refresh` within AUTH_REFRESH_GRACE_MS or be closed with 4001. */
  TokenExpired = 'token_expired',
  /** The token of a `refresh` failed verification or names another user; why is only in the debug log. */
  InvalidToken = 'invalid_token',
}
