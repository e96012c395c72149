import type { Publication, StreamPosition } from './publication';
import type { HistoryResult } from './room-broker';

/**
 * What a join with `since` replays, from a history read after `since` (limit: `max`): every
 * publication after it, consecutive and in order, or undefined when recovery must not be
 * attempted, never a part: the epoch changed (the stream was lost), `since` is ahead of the
 * stream, more than `max` were missed, or the oldest missed ones are no longer retained.
 */
export function recoverable(
  since: StreamPosition,
  { publications, position }: HistoryResult,
  max: number,
): Publication[] | undefined {
  if (since.epoch !== position.epoch) return undefined;
  const missed = position.offset - since.offset;
  if (missed < 0 || missed > max || publications.length !== missed) return undefined;
  for (let i = 0; i < publications.length; i++) {
    if (publications[i].offset !== since.offset + 1 + i) return undefined;
  }
  return publications;
}
