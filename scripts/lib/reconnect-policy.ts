import { CloseCode, RECONNECT_RANGE } from '../../src/protocol/close-codes';
import { BackoffPolicy, RECONNECT_BACKOFF, fullJitterDelay } from './backoff';

/**
 * After a 1012 (the server restarting or draining) the first retry comes within this window, as
 * the README's close-code section allows: the server is already on its way back.
 */
export const SERVICE_RESTART_FIRST_RETRY_MS = 2000;

/**
 * Close codes after which the terminal client reconnects by itself: the network or the server
 * went away (1001, 1005, 1006), the server failed or restarts (1011, 1012, 1014), or it asks to
 * come back later (1013, and the 4000–4499 range but 4001). Everything else is left to the person:
 * 1000 is a normal end; 1002, 1007, 1008 and 1009 are "after fixing the cause" in the README
 * (abuse, a join or auth timeout, a bad frame: the same client would earn them again); 4001 is a
 * token that expired without a refresh, and the client has no other token to come back with;
 * 4403 is a backend disconnecting the user (`user.disconnect`);
 * 4500–4999 say "do not reconnect"; a code nobody documents is not guessed at.
 */
export function reconnectsAfterClose(code: number): boolean {
  switch (code) {
    case 1001: // going away
    case 1005: // closed without a code
    case 1006: // connection lost: no close frame (network, heartbeat)
    case CloseCode.InternalError:
    case CloseCode.ServiceRestart:
    case CloseCode.TryAgainLater:
    case 1014: // bad gateway: a proxy in front of the server
      return true;
    case CloseCode.TokenExpired:
    case CloseCode.DisconnectedByBackend: // 4403: a backend said do not come back
      return false;
    default:
      // 4500–4999 (NO_RECONNECT_RANGE) and undocumented codes fall outside.
      return code >= RECONNECT_RANGE.from && code <= RECONNECT_RANGE.to;
  }
}

/**
 * Whether to keep trying after the server refused the upgrade with an HTTP status (README,
 * "Close codes"): 429 and 503 are limits and draining, which pass; so are the 5xx of a proxy
 * while the server restarts. 401 (the token no longer passes), 403 (Origin) and 404 (path) will
 * answer the same to every retry.
 */
export function reconnectsAfterRefusal(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * The delay before retry `attempt` (0 for the first) after a connection that ended with
 * `closeCode`: full jitter over the backoff, except that the first retry after a 1012 is drawn
 * within SERVICE_RESTART_FIRST_RETRY_MS.
 */
export function reconnectDelay(
  attempt: number,
  closeCode: number,
  policy: BackoffPolicy = RECONNECT_BACKOFF,
  random: () => number = Math.random,
): number {
  if (attempt === 0 && closeCode === CloseCode.ServiceRestart) {
    return Math.floor(random() * SERVICE_RESTART_FIRST_RETRY_MS);
  }
  return fullJitterDelay(attempt, policy, random);
}
