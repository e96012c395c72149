import type {
  Publication,
  PublicationData,
  PublicationHandler,
  StreamPosition,
} from './publication';

export interface HistoryOptions {
  /**
   * The oldest retained publications after this position (exclusive), for a recovery; none when
   * its epoch is not the room's (the stream it names is gone).
   */
  since?: StreamPosition;
  /** The newest retained publications with an offset below this one (paging back). */
  before?: number;
  /** At most this many; 0 asks for the current position only. */
  limit: number;
}

export interface PublishOptions {
  /** Names the publication within its room: a second publish of it is not made (see `publish`). */
  idempotencyKey?: string;
  /**
   * Called once the publication's place in the room's stream is fixed (made in memory; its
   * script sent on the one command connection with Redis, which runs commands in the order
   * sent), before `publish` resolves: a caller publishing a room's messages in order may start
   * the next one then, without waiting for this one's round trip.
   */
  onOrdered?: () => void;
}

/** Where a publication landed: its position, or the first one's when it was a duplicate. */
export interface PublishResult extends StreamPosition {
  /** True when an earlier publication of the same idempotency key stands for this one. */
  duplicate: boolean;
  /** For a duplicate, the first publication's data while the room's history still holds it. */
  original?: PublicationData;
}

export interface HistoryResult {
  publications: Publication[];
  /** The room's current position: the offset of its newest publication and its epoch. */
  position: StreamPosition;
}

/**
 * Positioned publish-subscribe of rooms, on this instance (in memory) or across every instance
 * (Redis), in the spirit of centrifuge's Broker. The broker knows neither sockets nor the wire
 * format of clients: consumers (the room hub, later the event platform and metrics) register a
 * handler and receive publications.
 */
export interface RoomBroker {
  /**
   * Appends `data` to the room's stream and delivers it to the handlers of every instance
   * subscribed to the room. Resolves with the position assigned: offsets of one room increase by
   * one per publication, cluster-wide, and every subscriber receives a room's publications in
   * offset order. Rejects with `BrokerUnavailableError` when the publication could not be made:
   * then it reached every subscriber and the history, or none of them (a publish that timed out
   * may still have been made), never some instances only; it was never made twice. A membership
   * change (`join`, `leave`) is stamped with `at`, the broker's time of the publication (Redis'
   * clock with Redis), whatever `at` it was given: every subscriber and the history get that one.
   *
   * Idempotent with `options.idempotencyKey`: the first publish of a key in a room is remembered
   * (key → position) for IDEMPOTENCY_WINDOW_MS, checked and recorded in the same atomic step as
   * the publication; a publish of the same key in the same room within that window publishes
   * nothing and resolves with the first one's position, `duplicate: true` and, while the room's
   * history still holds it, the first one's data. Keys of different rooms never meet. A window
   * of 0 remembers nothing. In memory the keys kept are bounded too (see `IdempotencyKeys`): past
   * the bound the oldest are forgotten early, and a key forgotten publishes again.
   */
  publish(roomId: string, data: PublicationData, options?: PublishOptions): Promise<PublishResult>;

  /**
   * The room's current position and retained publications (the last HISTORY_SIZE, for
   * HISTORY_TTL_MS after the newest), oldest first, read in one step with the position: with
   * `since`, the oldest after it; otherwise the newest (below `before` when given). Never fails
   * for an unknown room: its position is offset 0 of a new epoch.
   */
  history(roomId: string, options: HistoryOptions): Promise<HistoryResult>;

  /**
   * One more local subscriber of `roomId`: from the first one on, this instance receives the
   * room's publications. Reference counted; resolves once publications are flowing.
   */
  subscribe(roomId: string): Promise<void>;

  /** One local subscriber left `roomId`; after the last one the instance stops receiving it. */
  unsubscribe(roomId: string): Promise<void>;

  /** Registers a consumer; call before the first subscribe. Handlers must not throw. */
  onPublication(handler: PublicationHandler): void;
}

/** Injection token of the RoomBroker port (same name as the interface, as in @nestjs/throttler). */
export const RoomBroker = Symbol('RoomBroker');

/** The broker could not publish (Redis refused or did not answer); the caller may retry. */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
}
