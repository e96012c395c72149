import type { Publication, StreamPosition } from './publication';
import type { HistoryResult } from './room-broker';

/**
 * Publications of the joiner's own joins and leaves a gap may hold beyond RECOVERY_MAX: they are
 * not replayed (a user is not told that they joined), so they do not count as missed.
 */
export const OWN_MEMBERSHIP_SLACK = 8;

/**
 * What a join with `since` replays, from a history read after `since` (limit: `max` +
 * OWN_MEMBERSHIP_SLACK): every publication after it, consecutive and in order, or undefined when
 * recovery must not be attempted, never a part: the epoch changed (the stream was lost), `since`
 * is ahead of the stream, more than `max` were missed (not counting what `skipped` says is not
 * replayed), or the oldest missed ones are no longer retained.
 */
export function recoverable(
  since: StreamPosition,
  { publications, position }: HistoryResult,
  max: number,
  skipped: (publication: Publication) => boolean = () => false,
): Publication[] | undefined {
  if (since.epoch !== position.epoch) return undefined;
  const missed = position.offset - since.offset;
  if (missed < 0 || publications.length !== missed) return undefined;
  let replayed = 0;
  for (const publication of publications) if (!skipped(publication)) replayed += 1;
  if (replayed > max) return undefined;
  for (let i = 0; i < publications.length; i++) {
    if (publications[i].offset !== since.offset + 1 + i) return undefined;
  }
  return publications;
}
