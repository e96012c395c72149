/**
 * Why a token was refused. For the server's debug log only: the client learns `invalid_token`
 * (or HTTP 401 at the handshake), so that a probing client cannot tell the checks apart.
 */
export type AuthFailureReason =
  | 'malformed'
  | 'algorithm not allowed'
  | 'bad signature'
  | 'unknown key'
  | 'key unavailable'
  | 'expired'
  | 'not yet valid'
  | 'issued in the future'
  | 'lifetime too long'
  | 'missing exp'
  | 'wrong issuer'
  | 'wrong audience'
  | 'bad subject'
  | 'bad rooms claim'
  | 'bad publish claim'
  | 'other user'
  | 'auth disabled';

/**
 * A refused token. Its message is the reason and nothing else: it never quotes the token, its
 * claims, or the library error that found the fault (jose's claim errors carry the payload).
 */
export class AuthError extends Error {
  override readonly name = 'AuthError';

  constructor(readonly reason: AuthFailureReason) {
    super(`token refused: ${reason}`);
  }
}
