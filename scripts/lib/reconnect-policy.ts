import {
  CLOSE_CODE_TABLE,
  CloseCode,
  NO_RECONNECT_RANGE,
  RECONNECT_RANGE,
} from '../../src/protocol/close-codes';
import { BackoffPolicy, RECONNECT_BACKOFF, fullJitterDelay } from './backoff';

/**
 * After a 1012 (the server restarting or draining) the first retry comes within this window, as
 * the README's close-code section allows: the server is already on its way back.
 */
export const SERVICE_RESTART_FIRST_RETRY_MS = 2000;

/** Closes from the network or a proxy in front of the server, not from the server itself. */
const PASSING_CLOSES: ReadonlySet<number> = new Set([1001, 1005, 1014]);

/**
 * Whether the terminal client reconnects by itself after a close, as the README's close-code
 * table says, with no exception: a code of the table reconnects when its row says `yes` (an
 * "after fixing the cause" needs the person: the same client would earn it again); other
 * application codes follow the ranges (4000–4499 reconnect, 4500–4999 do not); of the codes the
 * server does not send, those of the network or a proxy (1001 going away, 1005 no code, 1014 bad
 * gateway) reconnect, and 1000 (a normal end) or a code nobody documents does not.
 * After a 4001 the retry carries the same expired token, so it is refused with 401 and ends there.
 */
export function reconnectsAfterClose(code: number): boolean {
  const rows = CLOSE_CODE_TABLE.filter((row) => row.code === code);
  if (rows.length > 0) return rows.every((row) => row.reconnect === 'yes');
  if (code >= RECONNECT_RANGE.from && code <= RECONNECT_RANGE.to) return true;
  if (code >= NO_RECONNECT_RANGE.from && code <= NO_RECONNECT_RANGE.to) return false;
  return PASSING_CLOSES.has(code);
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
