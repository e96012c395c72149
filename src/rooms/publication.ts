/**
 * What rooms carry. A room is a stream of publications; each has a position in it: an `offset`
 * that increases by one per publication, and an `epoch` naming the stream (a new epoch means the
 * stream was lost and started over, so offsets of two epochs never compare).
 */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/**
 * The content of a publication. Chat and the events of later features are frames serialized by
 * their publisher (without position); membership changes are data, rendered into frames by the
 * consumers, so that the membership store (and Redis' scripts) never build wire frames.
 * A membership change carries `at`, when it happened (epoch ms, taken once by its one writer:
 * Redis' clock in its scripts, the process's in memory), so that every member on every instance
 * and every history replay render the same `timestamp`; an entry written without it has none.
 */
export type PublicationData =
  | { kind: 'frame'; frame: string }
  | { kind: 'join'; userId: string; at?: number }
  | { kind: 'leave'; userId: string; at?: number };

export interface Publication extends StreamPosition {
  roomId: string;
  data: PublicationData;
}

/**
 * Position of a publication that did not go through the room's stream: delivered to this
 * instance's members only while the shared broker was unreachable (degraded mode).
 */
export const UNPOSITIONED: StreamPosition = Object.freeze({ offset: 0, epoch: '' });

/** Receives every publication of the rooms this instance is subscribed to, in stream order. */
export type PublicationHandler = (publication: Publication) => void;
