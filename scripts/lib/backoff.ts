/** Exponential backoff: the ceiling starts at `baseMs` and doubles per attempt up to `capMs`. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** The terminal client's reconnect backoff (README, "Clients"). */
export const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/** The ceiling of retry `attempt` (0 for the first retry): min(capMs, baseMs · 2^attempt). */
export function backoffCeiling(attempt: number, policy: BackoffPolicy = RECONNECT_BACKOFF): number {
  // 2 ** 1100 is Infinity, which Math.min turns back into the cap: no overflow to guard against.
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt));
}

/**
 * "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): a delay picked
 * uniformly in [0, ceiling). Spreading every client over the whole window, rather than around
 * the ceiling, is what keeps a restarted server from being hit by all of them at once.
 * `random` returns a number in [0, 1), as Math.random does.
 */
export function fullJitterDelay(
  attempt: number,
  policy: BackoffPolicy = RECONNECT_BACKOFF,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, policy));
}
