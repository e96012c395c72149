import type { Publication } from './publication';
import type { HistoryOptions } from './room-broker';

/**
 * Picks what a history request gets from a room's retained publications (oldest first, offsets
 * consecutive): shared by the in-memory broker and the tests of the Redis one, so both read the
 * options the same way.
 */
export function historyWindow(
  retained: readonly Publication[],
  epoch: string,
  { since, before, limit }: HistoryOptions,
): Publication[] {
  if (limit <= 0 || retained.length === 0) return [];
  if (since !== undefined) {
    if (since.epoch !== epoch) return [];
    return retained.filter((p) => p.offset > since.offset).slice(0, limit);
  }
  const below = before === undefined ? retained : retained.filter((p) => p.offset < before);
  return below.slice(Math.max(0, below.length - limit));
}
