/** What taking an answer's bytes from a lease came to. */
export type AnswerTake =
  /** The bytes are held until the lease is released. */
  | 'taken'
  /** The request's own budget cannot hold them (or the request is gone): nothing taken. */
  | 'spent'
  /** The pool cannot hold them now: nothing taken; a retry may find room. */
  | 'busy';

/**
 * The bytes of answers held at once for backend callers, all requests together: room for an
 * answer is set aside before it is read and given back once it is sent, so answers being read,
 * serialized and written never hold more than `capacity` bytes (a read beyond them is refused).
 */
export class AnswerPool {
  private heldBytes = 0;

  /** `perLease`: the bytes one request's answers may hold together. */
  constructor(
    readonly capacity: number,
    private readonly perLease: number,
  ) {}

  /** Bytes held now by unreleased leases. */
  get held(): number {
    return this.heldBytes;
  }

  /** A budget of `perLease` bytes for one request's answers, drawing on the pool. */
  lease(): AnswerLease {
    return new AnswerLease(this, this.perLease);
  }

  /** Takes `bytes` when they fit in what is left; false, taking nothing, otherwise. */
  take(bytes: number): boolean {
    if (this.heldBytes + bytes > this.capacity) return false;
    this.heldBytes += bytes;
    return true;
  }

  give(bytes: number): void {
    this.heldBytes -= bytes;
  }
}

/**
 * One request's share of the pool: its answers together hold at most `budget` bytes (the first
 * answer whatever its size, as long as the pool has room), all given back by `release` (once the
 * answer is sent, or the request is gone). Room for an answer is set aside before it is read
 * (`reserve`), so that reads in flight are bounded too, and trimmed to what it came to once built
 * (`settle`); one answer at a time. A released lease takes nothing more.
 */
export class AnswerLease {
  private heldBytes = 0;
  private released = false;

  constructor(
    private readonly pool: AnswerPool,
    private readonly budget: number,
  ) {}

  /** Bytes the request's answers may still take (0 once released). */
  get remaining(): number {
    return this.released ? 0 : Math.max(0, this.budget - this.heldBytes);
  }

  /**
   * Sets aside what the request has left (its whole budget for its first answer) before an
   * answer is read: the bytes set aside, or why none were.
   */
  reserve(): number | Exclude<AnswerTake, 'taken'> {
    const bytes = this.remaining;
    if (bytes === 0) return 'spent';
    if (!this.pool.take(bytes)) return 'busy';
    this.heldBytes += bytes;
    return bytes;
  }

  /**
   * Keeps `used` of the `reserved` bytes and gives the rest back. An answer larger than its
   * reservation (one frame over the budget) is kept only as the request's first and while the
   * pool has room; otherwise all of the reservation is given back.
   */
  settle(reserved: number, used: number): AnswerTake {
    if (this.released) return 'spent';
    if (used <= reserved) {
      this.give(reserved - used);
      return 'taken';
    }
    const first = this.heldBytes === reserved;
    if (first && this.pool.take(used - reserved)) {
      this.heldBytes += used - reserved;
      return 'taken';
    }
    this.give(reserved);
    return first ? 'busy' : 'spent';
  }

  /** Gives every byte back to the pool; idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.give(this.heldBytes);
    this.heldBytes = 0;
  }

  private give(bytes: number): void {
    this.heldBytes -= bytes;
    this.pool.give(bytes);
  }
}
