import { performance } from 'node:perf_hooks';

/** How often the meter's timer expects to run; lateness beyond it is stall. */
export const STALL_TICK_MS = 20;
/** Stalls older than this are forgotten (a bucket refills fully long before). */
const HORIZON_MS = 60_000;
const MAX_STALLS = 1024;

/** Answers how long the event loop was stalled within a span of time. */
export interface StallClock {
  /** Milliseconds of (from, to] (performance.now() times) during which the loop did not turn. */
  stalledBetween(from: number, to: number): number;
}

interface Stall {
  start: number;
  end: number;
}

/**
 * Measures this process' event-loop stalls with the lag of a timer: one that should run every
 * STALL_TICK_MS and ran late was kept from running, and so was every socket read. The gap not yet
 * closed by a tick (a stall just ending, whose frames are being read before the timers phase) is
 * counted too. One per process would do; one per SessionRegistry keeps tests independent.
 */
export class LoopStallMeter implements StallClock {
  private readonly stalls: Stall[] = [];
  private lastTick: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.lastTick = now();
  }

  start(): this {
    this.timer ??= setInterval(() => this.tick(), STALL_TICK_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One run of the timer: a late one records the time it was kept from running. */
  tick(now = this.now()): void {
    const due = this.lastTick + STALL_TICK_MS;
    if (now > due) this.stalls.push({ start: due, end: now });
    this.lastTick = now;
    while (
      this.stalls.length > 0 &&
      (this.stalls.length > MAX_STALLS || this.stalls[0].end < now - HORIZON_MS)
    ) {
      this.stalls.shift();
    }
  }

  stalledBetween(from: number, to: number): number {
    let total = overlap(from, to, this.lastTick + STALL_TICK_MS, to);
    for (let i = this.stalls.length - 1; i >= 0; i--) {
      const stall = this.stalls[i];
      if (stall.end <= from) break;
      total += overlap(from, to, stall.start, stall.end);
    }
    return total;
  }
}

function overlap(from: number, to: number, start: number, end: number): number {
  return Math.max(0, Math.min(to, end) - Math.max(from, start));
}
