import type { LoggerService } from '@nestjs/common';

/** Kinds remembered per interval; warnings of further kinds are counted together. */
const MAX_KINDS = 100;

/**
 * Rate-limits repeated warnings so that a client (or a failing dependency) that triggers the same
 * condition thousands of times a second costs one log line per interval, not one per event.
 *
 * A warning's kind is the warning in words, the same for all its repeats (no ids, no values):
 * "Redis refused a command (OOM)", never a code such as "S". The first warning of a kind in an
 * interval is logged at once; its repeats are only counted, and when the interval ends one line
 * names the kind and how many more there were ("Redis refused a command (OOM): repeated 3 more
 * time(s) in the last 10 s"). At most MAX_KINDS kinds are kept
 * per interval: warnings of other kinds are counted together, so memory stays bounded whatever
 * the kinds are made of. The timer runs only while there is something to report, and never keeps
 * the process alive.
 */
export class LogThrottle {
  /** Repeats of each kind seen in this interval (its first warning was logged). */
  private readonly repeats = new Map<string, number>();
  /** Warnings of kinds beyond MAX_KINDS in this interval, none of them logged yet. */
  private overflow = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Pick<LoggerService, 'warn'>,
    private readonly intervalMs = 10_000,
  ) {}

  /** `kind`: the warning in words, shared by its repeats; `message`: this occurrence's line. */
  warn(kind: string, message: string): void {
    const seen = this.repeats.get(kind);
    if (seen !== undefined) {
      this.repeats.set(kind, seen + 1);
    } else if (this.repeats.size < MAX_KINDS) {
      this.repeats.set(kind, 0);
      this.logger.warn(message);
    } else {
      this.overflow += 1;
    }
    this.timer ??= setInterval(() => this.endInterval(), this.intervalMs).unref();
  }

  private endInterval(): void {
    const seconds = this.intervalMs / 1000;
    let reported = false;
    for (const [kind, count] of this.repeats) {
      if (count === 0) continue;
      this.logger.warn(`${kind}: repeated ${count} more time(s) in the last ${seconds} s`);
      reported = true;
    }
    if (this.overflow > 0) {
      this.logger.warn(`${this.overflow} warning(s) of other kinds in the last ${seconds} s`);
      reported = true;
    }
    this.repeats.clear();
    this.overflow = 0;
    // A quiet interval: nothing left to report, so the timer stops until the next warning.
    if (!reported) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
