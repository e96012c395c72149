import { readFileSync } from 'node:fs';

/** Busy and total time of one CPU from /proc/stat, in clock ticks; undefined off Linux. */
export interface CoreTicks {
  busy: number;
  total: number;
}

export function readCoreTicks(core: number | undefined): CoreTicks | undefined {
  if (core === undefined) return undefined;
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${core} `));
    if (!line) return undefined;
    // user nice system idle iowait irq softirq steal ...
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((sum, t) => sum + t, 0);
    return { busy: total - ticks[3] - (ticks[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/** Percentage of the CPU that was busy between two readings. */
export function busyPercentBetween(from: CoreTicks, to: CoreTicks): number {
  const total = to.total - from.total;
  return total > 0 ? ((to.busy - from.busy) / total) * 100 : NaN;
}
