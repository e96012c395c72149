/**
 * A token bucket: holds up to `burst` tokens, refilled at `perSecond`. A message takes its cost in
 * tokens (one for most); without enough of them it is refused and takes none. Time is passed in
 * so tests need no clock.
 *
 * Time the server's event loop was stalled refills beyond the burst, as stall credit: frames the
 * client sent during a stall reach the server's handler all at once when it ends, and must find
 * the tokens they would have found had they been read as they arrived. The credit expires as
 * long after the stall as the stall lasted: a backlog is read by then, or the loop stalled again
 * (and that stall brings credit of its own).
 */
export class TokenBucket {
  private tokens: number;
  private credit = 0;
  private creditUntil = 0;
  private updatedAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /**
   * Refills for the time since the previous call; `stalledMs` of it the server was not reading
   * (see LoopStallMeter), which becomes stall credit instead of being capped at the burst.
   */
  refill(now: number, stalledMs = 0): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    const stalled = Math.min(Math.max(0, stalledMs), elapsed);
    this.updatedAt = now;
    this.tokens = Math.min(this.burst, this.tokens + ((elapsed - stalled) * this.perSecond) / 1000);
    if (now > this.creditUntil) this.credit = 0;
    if (stalled > 0) {
      this.credit += (stalled * this.perSecond) / 1000;
      this.creditUntil = Math.max(this.creditUntil, now + stalled);
    }
  }

  /** Tokens a message could take now (after `refill`). */
  get available(): number {
    return this.tokens + this.credit;
  }

  /** Takes `cost` tokens if there are as many (stall credit first: it expires); returns whether it did. */
  take(cost = 1): boolean {
    // The epsilon absorbs float drift: ten refills of 0.1 must make a whole token.
    if (this.available < cost - 1e-9) return false;
    const fromCredit = Math.min(this.credit, cost);
    this.credit -= fromCredit;
    this.tokens = Math.max(0, this.tokens - (cost - fromCredit));
    return true;
  }

  /**
   * Takes `cost` tokens however few there are (stall credit first): work whose cost is known only
   * once done. The bucket may go below zero; it refills from there, refusing until it holds a
   * message's cost again.
   */
  debit(cost: number): void {
    const fromCredit = Math.min(this.credit, cost);
    this.credit -= fromCredit;
    this.tokens -= cost - fromCredit;
  }

  /** `refill(now)` then `take(cost)`. */
  takeAt(now: number, cost = 1): boolean {
    this.refill(now);
    return this.take(cost);
  }
}
